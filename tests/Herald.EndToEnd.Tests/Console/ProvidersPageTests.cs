using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Playwright;
using static Herald.EndToEnd.Tests.Console.ConsoleBrowserTests;
using static Herald.EndToEnd.Tests.Console.RulesPageTests;
using static Microsoft.Playwright.Assertions;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>
/// The console's Providers page in a real browser against a real Herald host: the tenant's sandbox accounts per
/// channel with their health, an account isolated and reset from the page (and so in the API), the costs chart.
/// Takes docs/screenshots/providers.png.
/// </summary>
public sealed class ProvidersPageTests
{
    [Fact]
    public async Task Admin_SeesAccountsPerChannel_IsolatesAndResetsOne_SeesTheCostsChart()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        var sent = await tenant.SendAsync(new { type = "payment.received", customer = new { phone = TestData.Phone() } });
        await tenant.WaitForStatusAsync(sent, "delivered");
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, tenant.DefaultRequestHeaders.Authorization!.Parameter!);
        var wait = new LocatorAssertionsToContainTextOptions { Timeout = (float)Deadline.TotalMilliseconds };

        await page.GetByRole(AriaRole.Link, new() { Name = "Providers" }).ClickAsync();
        var sms = page.GetByRole(AriaRole.Table, new() { Name = "sms accounts" });
        await Expect(sms).ToContainTextAsync("Sandbox SMS", wait);
        await Expect(page.GetByRole(AriaRole.Img, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Cost by channel and day") })).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "Isolate Sandbox SMS" }).ClickAsync();
        await Expect(page.GetByTestId("health-Sandbox SMS")).ToHaveTextAsync("isolated", new() { Timeout = (float)Deadline.TotalMilliseconds });
        Assert.True((await SandboxSmsAsync(tenant))["isolated"]!.GetValue<bool>());
        await page.ScreenshotAsync(new() { Path = Screenshot("providers.png"), FullPage = true });

        await page.GetByRole(AriaRole.Button, new() { Name = "Reset Sandbox SMS" }).ClickAsync();
        await Expect(page.GetByTestId("health-Sandbox SMS")).Not.ToHaveTextAsync("isolated", new() { Timeout = (float)Deadline.TotalMilliseconds });
        Assert.False((await SandboxSmsAsync(tenant))["isolated"]!.GetValue<bool>());

        await page.SetViewportSizeAsync(390, 844);
        await AssertFitsAsync(page, 390);
    }

    private static async Task<JsonNode> SandboxSmsAsync(HttpClient tenant) =>
        (await tenant.GetFromJsonAsync<JsonArray>("/v1/providers"))!.Single(p => p!["name"]!.GetValue<string>() == "Sandbox SMS")!;
}
