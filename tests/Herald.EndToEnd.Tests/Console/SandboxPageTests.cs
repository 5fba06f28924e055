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
/// The console's Sandbox page in a real browser against a real Herald host with its sandbox in process: a notification
/// routed WhatsApp → SMS shows on the customer's phone; a WhatsApp outage switched on from the page sends the next one
/// to SMS (and its trace shows the failed WhatsApp attempt and the SMS one); a fraud alert's button tapped on the phone
/// is recorded as the notification's reply. Without an in-process sandbox the page is not in the navigation.
/// Takes docs/screenshots/sandbox.png and sandbox-phone.png.
/// </summary>
public sealed class SandboxPageTests
{
    [Fact]
    public async Task Admin_SeesThePhone_TogglesAWhatsAppOutage_WatchesTheFallback_AnswersAFraudAlert()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync("Demo Bank");
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, tenant.DefaultRequestHeaders.Authorization!.Parameter!);
        var visible = new LocatorAssertionsToBeVisibleOptions { Timeout = (float)Deadline.TotalMilliseconds };
        var contains = new LocatorAssertionsToContainTextOptions { Timeout = (float)Deadline.TotalMilliseconds };

        var phone = TestData.Phone();
        var first = await tenant.SendAsync(new
        {
            type = "payment.received", customer = new { phone }, channels = new[] { "whatsapp", "sms" },
            data = new { text = "Incoming payment: +1250.00 EUR" },
        });
        await tenant.WaitForStatusAsync(first, "delivered");

        await page.GetByRole(AriaRole.Link, new() { Name = "Sandbox" }).ClickAsync();
        var screen = page.GetByRole(AriaRole.List, new() { Name = $"Messages to {phone}" });
        await Expect(screen.Locator("[data-channel=whatsapp]")).ToContainTextAsync("Incoming payment: +1250.00 EUR", contains);
        await Expect(screen.Locator("[data-channel=whatsapp]").GetByTestId("ticks")).ToHaveAttributeAsync("aria-label", "delivered");

        // WhatsApp out, from the page: the next notification falls back to SMS.
        var outage = page.GetByRole(AriaRole.Switch, new() { Name = "Outage Sandbox WhatsApp" });
        await outage.CheckAsync();
        await Expect(outage).ToBeCheckedAsync();
        var second = await tenant.SendAsync(new
        {
            type = "payment.received", customer = new { phone }, channels = new[] { "whatsapp", "sms" },
            data = new { text = "Card payment: -42.00 EUR" },
        });
        await Expect(screen.Locator("[data-channel=sms]")).ToContainTextAsync("Card payment: -42.00 EUR", contains);
        Assert.Equal(1, await screen.Locator("[data-channel=whatsapp]").CountAsync());
        await page.ScreenshotAsync(new() { Path = Screenshot("sandbox.png"), FullPage = true });

        await screen.Locator("[data-channel=sms]").GetByRole(AriaRole.Link, new() { Name = "Trace of the sms message" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { NameRegex = new System.Text.RegularExpressions.Regex(@"^payment\.received") })).ToBeVisibleAsync(visible);
        Assert.EndsWith($"/console/notifications/{second}", page.Url, StringComparison.Ordinal);
        var timeline = page.GetByRole(AriaRole.List, new() { Name = "Attempts, oldest first" });
        await Expect(timeline.Locator(".attempt-failed").First).ToContainTextAsync("whatsapp", contains);
        await Expect(timeline).ToContainTextAsync("sms", contains);

        await page.GetByRole(AriaRole.Link, new() { Name = "Sandbox" }).ClickAsync();
        await outage.UncheckAsync();
        await Expect(outage).Not.ToBeCheckedAsync();
        // One account's own latency, from the page, and back.
        var latency = page.GetByRole(AriaRole.Combobox, new() { Name = "Latency Sandbox Telegram" });
        await latency.SelectOptionAsync("2000");
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Sandbox Telegram: 2000 ms added to its sends", contains);
        await latency.SelectOptionAsync("0");
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Sandbox Telegram: no added latency", contains);

        // A fraud alert with buttons: tapped on the phone, recorded as the notification's reply.
        var customer = TestData.Phone();
        var alert = await tenant.SendAsync(new
        {
            type = "fraud.alert",
            customer = new { id = "ana", phone = customer },
            channels = new[] { "whatsapp", "sms" },
            data = new { text = "Card *1234: 950.00 EUR at Electronics. Was this you?" },
            actions = new object[] { new { id = "confirm", title = "Yes, it was me" }, new { id = "block", title = "No, block it" } },
            replyTtl = "1h",
        });
        var alertScreen = page.GetByRole(AriaRole.List, new() { Name = $"Messages to {customer}" });
        var block = alertScreen.GetByRole(AriaRole.Button, new() { Name = "No, block it" });
        await Expect(block).ToBeVisibleAsync(visible);
        await block.ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Answered" })).ToContainTextAsync("Herald said 200", contains);
        using (var deadline = new CancellationTokenSource(Deadline))
        {
            while ((await tenant.GetNotificationAsync(alert))["replies"]?.AsArray() is not [_])
            {
                await Task.Delay(50, deadline.Token);
            }
        }

        var reply = (await tenant.GetNotificationAsync(alert))["replies"]![0]!;
        Assert.Equal("block", reply.Str("actionId"));
        var conversation = await tenant.GetFromJsonAsync<JsonObject>("/v1/customers/ana/messages", TestContext.Current.CancellationToken);
        Assert.Contains(conversation!["items"]!.AsArray(), m => m!.Str("id") == reply.Str("id"));

        await page.SetViewportSizeAsync(390, 844);
        await Expect(alertScreen).ToBeVisibleAsync(visible);
        await page.ScreenshotAsync(new() { Path = Screenshot("sandbox-phone.png") });
        await AssertFitsAsync(page, 390);
    }

    [Fact]
    public async Task WithoutAnInProcessSandbox_TheNavigationHasNoSandbox()
    {
        using var folder = new TempFolder();
        var settings = HeraldHost.SqliteSettings(folder.Path);
        settings["Herald:Sandbox:Enabled"] = "false";
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);
        var (_, tenant) = await host.CreateTenantAsync();
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, tenant.DefaultRequestHeaders.Authorization!.Parameter!);
        var nav = page.GetByRole(AriaRole.Navigation, new() { Name = "Pages" });
        await Expect(nav.GetByRole(AriaRole.Link, new() { Name = "Providers" })).ToBeVisibleAsync();
        // The availability check has answered once the sign-in settled; the link never appears.
        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        await Expect(nav.GetByRole(AriaRole.Link, new() { Name = "Sandbox" })).ToHaveCountAsync(0);
    }
}
