using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>
/// The console in a real browser (Debian's chromium driven by Playwright; never a downloaded browser) against a real
/// Herald host with its sandbox, told as an operator's story: sign in, send a notification, see it on the overview and
/// in the list, open its trace, cancel another one, sign out. The screenshots it takes are docs/screenshots/*.png,
/// which the README shows.
/// </summary>
public sealed class ConsoleBrowserTests
{
    /// <summary>Debian's chromium (scripts/test.sh installs the package when missing); HERALD_CHROMIUM overrides.</summary>
    private static readonly string Chromium = Environment.GetEnvironmentVariable("HERALD_CHROMIUM") ?? "/usr/bin/chromium";

    internal static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Operator_SignsIn_SeesANotificationOnTheOverviewAndInTheList_TracesIt_CancelsAnother_SignsOut()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync("Demo Bank");
        var key = tenant.DefaultRequestHeaders.Authorization!.Parameter!;
        await using var browser = await LaunchAsync();
        var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 }, BaseURL = host.BaseUrl });
        var page = await context.NewPageAsync();
        var expect = new LocatorAssertionsToBeVisibleOptions { Timeout = (float)Deadline.TotalMilliseconds };

        // The root redirects to the console, which asks for a key; a wrong one is refused in words.
        await page.GotoAsync("/");
        Assert.EndsWith("/console/", page.Url, StringComparison.Ordinal);
        await page.GetByLabel("API key").FillAsync("hk_not-a-key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Unknown or revoked API key");
        await page.ScreenshotAsync(new() { Path = Screenshot("sign-in.png") });

        // Signed in: the page shows the overview, keyed by the session cookie alone.
        await page.GetByLabel("API key").FillAsync(key);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync(expect);

        // A notification through the sandbox: it shows on the overview (after its refresh) and in the list.
        var delivered = await tenant.SendAsync(new { type = "payment.received", externalId = "tx-1001", customer = new { phone = TestData.Phone() } });
        await tenant.WaitForStatusAsync(delivered, "delivered");
        await page.ReloadAsync();
        await Expect(page.GetByTestId("total")).ToHaveTextAsync("1", new() { Timeout = (float)Deadline.TotalMilliseconds });
        await Expect(page.GetByTestId("delivery-rate")).ToHaveTextAsync("100.0 %");
        // Delivered on its first channel; its accept→delivered is an "at most" figure (a log-scale bin's upper bound).
        await Expect(page.GetByTestId("fallback-rate")).ToHaveTextAsync("0.0 %");
        await Expect(page.GetByTestId("latency-p50")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^≤ [0-9.]+ (ms|s|min)$"));
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "Accept→delivered percentiles" })).ToHaveAttributeAsync(
            "aria-label", new System.Text.RegularExpressions.Regex("over 1 delivered$"));
        await page.ScreenshotAsync(new() { Path = Screenshot("overview.png"), FullPage = true });

        // The first screen's load, measured (issue #19 asks under 1 s on the embedded demo; printed, never asserted:
        // `-class "*ConsoleBrowserTests" -showLiveOutput` on a quiet machine gives the figure).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await page.GotoAsync("/console/");
        await Expect(page.GetByTestId("total")).ToHaveTextAsync("1", new() { Timeout = (float)Deadline.TotalMilliseconds });
        var firstScreen = clock.Elapsed;
        var timing = await page.EvaluateAsync<double[]>(
            "() => { const n = performance.getEntriesByType('navigation')[0]; return [n.responseEnd, n.domContentLoadedEventEnd, n.loadEventEnd]; }");
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"console.first_screen: {firstScreen.TotalMilliseconds:F0} ms from navigation to the overview's figures (document {timing[0]:F0} ms, DOM ready {timing[1]:F0} ms, load {timing[2]:F0} ms)"));

        await page.GetByRole(AriaRole.Link, new() { Name = "Notifications" }).ClickAsync();
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "payment.received" });
        await Expect(row).ToBeVisibleAsync(expect);
        await Expect(row).ToContainTextAsync("delivered");
        await Expect(row).ToContainTextAsync("tx-1001");
        // A filter is part of the page's URL; one that matches nothing says so.
        await page.GetByLabel("Status").SelectOptionAsync("failed");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.GetByText("No notifications match.")).ToBeVisibleAsync(expect);
        Assert.Contains("status=failed", page.Url, StringComparison.Ordinal);
        await page.GetByRole(AriaRole.Button, new() { Name = "Clear" }).ClickAsync();
        await Expect(row).ToBeVisibleAsync(expect);
        await page.ScreenshotAsync(new() { Path = Screenshot("notifications.png"), FullPage = true });

        // Its trace: the route, the attempt that delivered it with its provider message id.
        await row.GetByRole(AriaRole.Link).ClickAsync();
        await Expect(page.GetByTestId("status")).ToHaveTextAsync("delivered", new() { Timeout = (float)Deadline.TotalMilliseconds });
        var attempts = page.GetByRole(AriaRole.List, new() { Name = "Attempts, oldest first" });
        await Expect(attempts.GetByRole(AriaRole.Listitem).First).ToContainTextAsync("whatsapp");
        // Why the route is what it is: the rules that decided it (the notification's own record), or the defaults.
        await Expect(page.GetByLabel("Why this route")).ToContainTextAsync(
            new System.Text.RegularExpressions.Regex("Decided by rule set version \\d+: .+ by rule |No rule decided it"));
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Cancel notification" })).ToHaveCountAsync(0);
        await page.ScreenshotAsync(new() { Path = Screenshot("trace.png"), FullPage = true });

        // Another one that waits for a WhatsApp receipt that never comes (sandbox phone ending 0002): cancel it.
        var waiting = await tenant.SendAsync(new { type = "card.blocked", customer = new { phone = TestData.Phone("0002") } });
        await page.GotoAsync($"/console/notifications/{waiting}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel notification" }).ClickAsync();
        await Expect(page.GetByTestId("status")).ToHaveTextAsync("cancelled", new() { Timeout = (float)Deadline.TotalMilliseconds });
        var cancelled = await tenant.GetNotificationAsync(waiting);
        Assert.Equal("cancelled", cancelled!["status"]!.GetValue<string>());

        // Phone width: the same trace, readable without sideways scrolling of the page.
        await page.SetViewportSizeAsync(390, 844);
        await page.ScreenshotAsync(new() { Path = Screenshot("trace-phone.png"), FullPage = true });
        await AssertFitsAsync(page, 390);

        // Sign out: back to the key prompt, and the API no longer answers this browser.
        await page.SetViewportSizeAsync(1280, 800);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByLabel("API key")).ToBeVisibleAsync(expect);
        var status = await page.EvaluateAsync<int>("async () => (await fetch('/v1/notifications')).status");
        Assert.Equal(401, status);
    }

    [Fact]
    public async Task SignedInByKeyboardAlone_TheKeyIsNowhereScriptsCanRead_AndTheSessionCookieIsHttpOnlyAndStrict()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        var key = tenant.DefaultRequestHeaders.Authorization!.Parameter!;
        await using var browser = await LaunchAsync();
        var context = await browser.NewContextAsync(new() { BaseURL = host.BaseUrl });
        var page = await context.NewPageAsync();

        // Keyboard only: the key field has the focus, Enter signs in, Tab walks the skip link and the page links.
        await page.GotoAsync("/console/");
        await Expect(page.GetByLabel("API key")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(key);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Skip to content" })).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Notifications" })).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Notifications" })).ToBeVisibleAsync();

        // Everything a script on the page can read: storage, script-visible cookies, the sign-in field.
        var readable = await page.EvaluateAsync<string>("""
            () => JSON.stringify({
              local: Object.entries(localStorage), session: Object.entries(sessionStorage), cookies: document.cookie,
              inputs: [...document.querySelectorAll('input')].map(i => i.value) })
            """);
        Assert.DoesNotContain(key, readable, StringComparison.Ordinal);
        Assert.DoesNotContain("herald_console", readable, StringComparison.Ordinal);

        var cookie = Assert.Single(await context.CookiesAsync(), c => c.Name == "herald_console");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.DoesNotContain(key, cookie.Value, StringComparison.Ordinal);
        // Plain http here; over https the cookie is Secure (ConsoleSessionTests reads the header).
        Assert.False(cookie.Secure);
    }

    internal static async Task<Chrome> LaunchAsync()
    {
        Assert.True(File.Exists(Chromium), $"No chromium at {Chromium}: scripts/test.sh installs Debian's 'chromium' package (or set HERALD_CHROMIUM).");
        var playwright = await Playwright.CreateAsync();
        return new Chrome(playwright, await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true }));
    }

    /// <summary>The browser and the Playwright driver that runs it, closed together.</summary>
    internal sealed class Chrome(IPlaywright playwright, IBrowser browser) : IAsyncDisposable
    {
        public Task<IBrowserContext> NewContextAsync(BrowserNewContextOptions options) => browser.NewContextAsync(options);

        public async ValueTask DisposeAsync()
        {
            await browser.DisposeAsync();
            playwright.Dispose();
        }
    }

    /// <summary>Asserts the page is no wider than <paramref name="width"/>, once the layout has followed a viewport change
    /// (charts resize from a ResizeObserver, a frame or more later; measured at once on a loaded machine, the page was
    /// still as wide as before). Names the widest elements when it is not.</summary>
    internal static async Task AssertFitsAsync(IPage page, int width)
    {
        try
        {
            await page.WaitForFunctionAsync($"() => document.documentElement.scrollWidth <= {width}", null, new() { Timeout = 10_000 });
        }
        catch (TimeoutException)
        {
            // Reported below, with what sticks out.
        }

        var actual = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        var widest = await page.EvaluateAsync<string>(
            $"() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > {width + 1}).slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join('; ')");
        Assert.True(actual <= width, $"The page is {actual} px wide at a {width} px window: {widest}");
    }

    internal static string Screenshot(string name)
    {
        var folder = Path.Combine(ConsoleOpenApiTests.RepositoryRoot(), "docs", "screenshots");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }
}
