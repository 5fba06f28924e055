using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.EndToEnd.Tests.Webhooks;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Herald.EndToEnd.Tests.Console.ConsoleBrowserTests;
using static Herald.EndToEnd.Tests.Console.RulesPageTests;
using static Microsoft.Playwright.Assertions;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>
/// The console's Webhooks page in a real browser against a real Herald host and a real receiver: an admin subscribes
/// an endpoint (a bad URL refused at its field first; the secret shown once), the receiver is down long enough for two
/// deliveries to go dead, the dead letters are filtered, one is opened (its response code and attempts) and
/// redelivered, the other by "Redeliver all dead"; both arrive. Then the endpoint is paused, described, its secret
/// rotated, and deleted. Takes docs/screenshots/webhooks.png.
/// </summary>
public sealed class WebhooksPageTests
{
    private static readonly TimeSpan RetryWindow = TimeSpan.FromMinutes(10);

    [Fact]
    public async Task Admin_SubscribesAnEndpoint_SeesDeadLetters_OpensOne_RedeliversItAndTheRest()
    {
        using var folder = new TempFolder();
        var settings = HeraldHost.SqliteSettings(folder.Path);
        settings["Herald:Webhooks:AllowInsecureUrls"] = "true";
        settings["Herald:Webhooks:RetryBaseDelay"] = "00:00:00.050";
        settings["Herald:Webhooks:RetryMaxDelay"] = "00:00:00.300";
        settings["Herald:Webhooks:PollInterval"] = "00:00:00.050";
        settings["Herald:Webhooks:RetryWindow"] = RetryWindow.ToString("c", CultureInfo.InvariantCulture);
        var clock = new ShiftedTimeProvider();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var (_, tenant) = await host.CreateTenantAsync();
        await using var receiver = new WebhookReceiver { Status = 500 };
        await receiver.StartAsync();
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, tenant.DefaultRequestHeaders.Authorization!.Parameter!);
        var wait = new LocatorAssertionsToContainTextOptions { Timeout = (float)Deadline.TotalMilliseconds };

        // Subscribe: a URL that is not one is refused at the field; the receiver's is saved and its secret shown once.
        await page.GetByRole(AriaRole.Link, new() { Name = "Webhooks" }).ClickAsync();
        await Expect(page.GetByText("No webhook endpoints.")).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
        await page.GetByRole(AriaRole.Button, new() { Name = "New endpoint" }).ClickAsync();
        var url = page.GetByLabel("URL", new() { Exact = true });
        await url.FillAsync("not a url");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create endpoint" }).ClickAsync();
        await Expect(url).ToHaveAttributeAsync("aria-invalid", "true", new() { Timeout = (float)Deadline.TotalMilliseconds });
        await Expect(page.Locator("#webhook-error-url")).Not.ToBeEmptyAsync();
        await url.FillAsync(receiver.Url);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create endpoint" }).ClickAsync();
        await Expect(page.GetByTestId("secret")).ToContainTextAsync("whsec_", wait);
        await page.GetByRole(AriaRole.Button, new() { Name = "I have copied it" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Webhook endpoints" })).ToContainTextAsync(receiver.Url, wait);

        // The receiver fails past the retry window: both deliveries are dead.
        var ids = new[]
        {
            await tenant.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() }, data = new { text = "One" } }),
            await tenant.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() }, data = new { text = "Two" } }),
        };
        await WaitUntilAsync(async () => (await DeliveriesAsync(tenant, "pending")).Count(d => ids.Contains(d["notificationId"]!.GetValue<Guid>()) && d["lastError"] is not null) == 2);
        clock.Advance(RetryWindow + TimeSpan.FromSeconds(1));
        await WaitUntilAsync(async () => (await DeliveriesAsync(tenant, "dead")).Count == 2);

        // The dead letters, one opened: its response code and attempts; redelivered, it arrives.
        await page.GetByLabel("State").SelectOptionAsync("dead");
        var deliveries = page.GetByRole(AriaRole.Table, new() { Name = "Deliveries" });
        await Expect(deliveries.GetByRole(AriaRole.Row).Filter(new() { HasText = "dead" })).ToHaveCountAsync(2, new() { Timeout = (float)Deadline.TotalMilliseconds });
        await deliveries.GetByRole(AriaRole.Button).First.ClickAsync();
        var detail = page.GetByTestId("delivery");
        await Expect(detail).ToContainTextAsync("Last response code500", wait);
        await Expect(page.GetByTestId("delivery-state")).ToHaveTextAsync("dead");
        await page.ScreenshotAsync(new() { Path = Screenshot("webhooks.png"), FullPage = true });

        receiver.Status = 200;
        await detail.GetByRole(AriaRole.Button, new() { Name = "Redeliver" }).ClickAsync();
        await Expect(page.GetByTestId("delivery-state")).ToHaveTextAsync("succeeded", new() { Timeout = (float)Deadline.TotalMilliseconds });

        // The rest, all at once (asked first).
        await page.GetByRole(AriaRole.Button, new() { Name = "Redeliver all dead" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Redeliver all dead" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "dead delivery" })).ToContainTextAsync("1 dead delivery is due again.", wait);
        await WaitUntilAsync(async () => (await DeliveriesAsync(tenant, "succeeded")).Count(d => ids.Contains(d["notificationId"]!.GetValue<Guid>())) == 2);
        await Expect(deliveries.GetByRole(AriaRole.Row).Filter(new() { HasText = "dead" })).ToHaveCountAsync(0, new() { Timeout = (float)Deadline.TotalMilliseconds });

        // The endpoint itself: paused, described, its secret rotated (asked first, shown once), deleted (asked first).
        var endpoints = page.GetByRole(AriaRole.Table, new() { Name = "Webhook endpoints" });
        await page.GetByRole(AriaRole.Button, new() { Name = $"Pause {receiver.Url}" }).ClickAsync();
        await Expect(endpoints).ToContainTextAsync("paused", wait);
        await page.GetByRole(AriaRole.Button, new() { Name = $"Edit {receiver.Url}" }).ClickAsync();
        await page.GetByLabel("Description").FillAsync("Core banking events");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save endpoint" }).ClickAsync();
        await Expect(endpoints).ToContainTextAsync("Core banking events", wait);
        await page.GetByRole(AriaRole.Button, new() { Name = $"Rotate secret of {receiver.Url}" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Rotate secret" }).ClickAsync();
        await Expect(page.GetByTestId("secret")).ToContainTextAsync("whsec_", wait);
        var endpoint = Assert.Single((await tenant.GetFromJsonAsync<JsonArray>("/v1/webhooks"))!)!;
        Assert.False(endpoint["enabled"]!.GetValue<bool>());
        Assert.Equal("Core banking events", endpoint["description"]!.GetValue<string>());
        await page.GetByRole(AriaRole.Button, new() { Name = $"Delete {receiver.Url}" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Delete endpoint" }).ClickAsync();
        await Expect(page.GetByText("No webhook endpoints.")).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
        Assert.Empty((await tenant.GetFromJsonAsync<JsonArray>("/v1/webhooks"))!);

        await page.SetViewportSizeAsync(390, 844);
        await AssertFitsAsync(page, 390);
    }

    private static async Task<List<JsonObject>> DeliveriesAsync(HttpClient tenant, string state) =>
        [.. (await tenant.GetFromJsonAsync<JsonObject>($"/v1/webhooks/deliveries?state={state}&limit=200"))!["items"]!.AsArray().Select(x => x!.AsObject())];

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < Deadline, "The condition did not hold in time.");
            await Task.Delay(50);
        }
    }
}
