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
/// The console's Sources page in a real browser against a real Herald host: an admin creates a mapped source (a
/// refused save first, located at its field), sends it the prefilled sample document and reads the per-item result
/// (the accepted alert links to its trace, the rejected one names its place), then requires a signature and rotates
/// the secret, each shown once. Takes docs/screenshots/sources.png.
/// </summary>
public sealed class SourcesPageTests
{
    [Fact]
    public async Task Admin_CreatesASource_SendsASampleDocument_SeesEachItem_RotatesTheSecret()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, tenant.DefaultRequestHeaders.Authorization!.Parameter!);
        var wait = new LocatorAssertionsToContainTextOptions { Timeout = (float)Deadline.TotalMilliseconds };

        await page.GetByRole(AriaRole.Link, new() { Name = "Sources" }).ClickAsync();
        await Expect(page.GetByText("No sources yet.")).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });

        // A source without a name is refused at the name; named, it is created (mapped, with the fraud engine's mapping).
        await page.GetByRole(AriaRole.Button, new() { Name = "New source" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Create source" }).ClickAsync();
        await Expect(page.Locator("#source-error-name")).ToContainTextAsync("Required", wait);
        await Expect(page.GetByLabel("Name", new() { Exact = true })).ToHaveAttributeAsync("aria-invalid", "true");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("Fraud engine");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create source" }).ClickAsync();
        var sources = page.GetByRole(AriaRole.Table, new() { Name = "Sources" });
        await Expect(sources).ToContainTextAsync("Fraud engine", wait);
        await Expect(sources).ToContainTextAsync("mapped");

        // The sample: two alerts, one stored (a link to its trace), one rejected at its phone number.
        await page.GetByRole(AriaRole.Button, new() { Name = "Send a sample to Fraud engine" }).ClickAsync();
        await Expect(page.GetByLabel("Document (application/json)")).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("alerts"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Send sample" }).ClickAsync();
        var items = page.GetByRole(AriaRole.Table, new() { Name = "Items of the sample" });
        await Expect(page.GetByTestId("sample-result")).ToContainTextAsync("1 accepted, 0 duplicate, 1 rejected", wait);
        var accepted = items.GetByRole(AriaRole.Row).Filter(new() { HasText = "accepted" });
        var rejected = items.GetByRole(AriaRole.Row).Filter(new() { HasText = "rejected" });
        await Expect(rejected).ToContainTextAsync("/alerts/1/customer/contact/msisdn");
        var id = Guid.Parse((await accepted.GetByRole(AriaRole.Link).TextContentAsync())!);
        Assert.Equal("fraud.alert", (await tenant.GetNotificationAsync(id))["type"]!.GetValue<string>());
        await page.ScreenshotAsync(new() { Path = Screenshot("sources.png"), FullPage = true });
        await accepted.GetByRole(AriaRole.Link).ClickAsync();
        await Expect(page.GetByTestId("status")).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
        Assert.EndsWith($"/console/notifications/{id}", page.Url, StringComparison.Ordinal);

        // A signature required from now on: its secret shown once; rotated (asked first): a new one, shown once.
        await page.GoBackAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Edit Fraud engine" }).ClickAsync();
        await page.GetByLabel("Require an HMAC signature").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save source" }).ClickAsync();
        var secret = page.GetByTestId("secret");
        await Expect(secret).Not.ToBeEmptyAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
        var first = await secret.TextContentAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "I have copied it" }).ClickAsync();
        await Expect(secret).ToHaveCountAsync(0);
        await Expect(sources).ToContainTextAsync("required", wait);

        await page.GetByRole(AriaRole.Button, new() { Name = "Rotate secret of Fraud engine" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Rotate secret" }).ClickAsync();
        await Expect(secret).Not.ToBeEmptyAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
        Assert.NotEqual(first, await secret.TextContentAsync());
        var stored = Assert.Single((await tenant.GetFromJsonAsync<JsonArray>("/v1/sources"))!)!;
        Assert.True(stored["signatureRequired"]!.GetValue<bool>());

        await page.SetViewportSizeAsync(390, 844);
        await AssertFitsAsync(page, 390);
    }

    /// <summary>Each adapter's default settings and prefilled sample work together: what the page offers is accepted,
    /// item by item, by Herald's real adapters.</summary>
    [Fact]
    public async Task EveryAdapter_ItsPrefilledSample_IsAcceptedItemByItem()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, tenant.DefaultRequestHeaders.Authorization!.Parameter!);
        var wait = new LocatorAssertionsToContainTextOptions { Timeout = (float)Deadline.TotalMilliseconds };
        await page.GetByRole(AriaRole.Link, new() { Name = "Sources" }).ClickAsync();

        foreach (var (adapter, expected) in new[]
        {
            ("native", "Accepted: notification"),
            ("mapped", "1 accepted, 0 duplicate, 1 rejected"),
            ("iso20022", "1 accepted, 0 duplicate, 1 rejected"),
            ("file", "1 accepted, 0 duplicate, 1 rejected"),
        })
        {
            await page.GetByRole(AriaRole.Button, new() { Name = "New source" }).ClickAsync();
            await page.GetByLabel("Name", new() { Exact = true }).FillAsync($"A {adapter} source");
            await page.GetByLabel("Adapter").SelectOptionAsync(adapter);
            await page.GetByRole(AriaRole.Button, new() { Name = "Create source" }).ClickAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = $"Send a sample to A {adapter} source" }).ClickAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Send sample" }).ClickAsync();
            await Expect(page.GetByTestId("sample-result")).ToContainTextAsync(expected, wait);
        }
    }

    [Fact]
    public async Task Viewer_SeesSourcesAndWebhooksReadOnly()
    {
        using var folder = new TempFolder();
        var settings = HeraldHost.SqliteSettings(folder.Path);
        settings["Herald:Webhooks:AllowInsecureUrls"] = "true";
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);
        var (_, tenant) = await host.CreateTenantAsync();
        using (var source = await tenant.PostAsJsonAsync("/v1/sources", new { name = "Core banking", adapter = "native", requireSignature = true }))
        {
            source.EnsureSuccessStatusCode();
        }

        using (var endpoint = await tenant.PostAsJsonAsync("/v1/webhooks", new { url = "http://127.0.0.1:9/events" }))
        {
            endpoint.EnsureSuccessStatusCode();
        }

        using var created = await tenant.PostAsJsonAsync("/v1/keys", new { name = "support desk", roles = new[] { "viewer" } });
        created.EnsureSuccessStatusCode();
        var viewerKey = (await created.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, viewerKey);
        var wait = new LocatorAssertionsToContainTextOptions { Timeout = (float)Deadline.TotalMilliseconds };

        await page.GetByRole(AriaRole.Link, new() { Name = "Sources" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Sources" })).ToContainTextAsync("Core banking", wait);
        await Expect(page.GetByText("Read-only")).ToBeVisibleAsync();
        foreach (var name in new[] { "New source", "Edit", "Rotate secret", "Delete", "Send a sample" })
        {
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = name })).ToHaveCountAsync(0);
        }

        await page.GetByRole(AriaRole.Link, new() { Name = "Webhooks" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Webhook endpoints" })).ToContainTextAsync("127.0.0.1:9", wait);
        await Expect(page.GetByText("Read-only")).ToBeVisibleAsync();
        foreach (var name in new[] { "New endpoint", "Edit", "Pause", "Rotate secret", "Delete", "Redeliver all dead" })
        {
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = name })).ToHaveCountAsync(0);
        }
    }
}
