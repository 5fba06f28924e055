using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Playwright;
using static Herald.EndToEnd.Tests.Console.ConsoleBrowserTests;
using static Microsoft.Playwright.Assertions;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>
/// The console's Rules page in a real browser against a real Herald host: an admin edits the rule set with an error
/// (shown at its place in the editor, nothing stored), fixes it, dry-runs a draft against the stored version side by
/// side, saves it, reads the diff in the history and rolls back; a viewer sees the rules read-only. Takes
/// docs/screenshots/rules.png and rules-phone.png.
/// </summary>
public sealed class RulesPageTests
{
    private const string Broken = """
        {"rules": [{"name": "fraud-first", "when": "type == 'fraud.alert' and", "then": {"priority": "critical", "channels": ["sms"]}}]}
        """;

    private const string Fixed = """
        {"rules": [{"name": "fraud-first", "when": "type == 'fraud.alert'", "then": {"priority": "critical", "channels": ["sms"]}}]}
        """;

    private const string Draft = """
        {"rules": [{"name": "fraud-first", "when": "type == 'fraud.alert'", "then": {"priority": "critical", "channels": ["whatsapp", "sms"]}}]}
        """;

    [Fact]
    public async Task Admin_EditsARuleWithAnError_FixesIt_DryRunsADraft_SavesIt_ReadsTheDiff_RollsBack()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, tenant.DefaultRequestHeaders.Authorization!.Parameter!);
        var wait = new LocatorAssertionsToBeVisibleOptions { Timeout = (float)Deadline.TotalMilliseconds };

        await page.GetByRole(AriaRole.Link, new() { Name = "Rules" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Rules", Exact = true })).ToBeVisibleAsync(wait);
        await Expect(page.GetByTestId("rules-version")).ToContainTextAsync("version 0");
        var editor = page.GetByRole(AriaRole.Textbox, new() { Name = "Rule set" });
        await Expect(editor).ToBeVisibleAsync(wait);

        // An error: the problem's located error is listed and marked in the editor at the condition; nothing is stored.
        await ReplaceAsync(page, editor, Broken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        var errors = page.GetByRole(AriaRole.List, new() { Name = "Rule set errors" });
        await Expect(errors).ToContainTextAsync("/rules/0/when", new() { Timeout = (float)Deadline.TotalMilliseconds });
        await Expect(errors).ToContainTextAsync("fraud-first");
        var mark = page.Locator(".cm-lintRange-error");
        await Expect(mark.First).ToBeVisibleAsync(wait);
        // The mark sits inside the condition's text (the character the parser stopped at), not on the whole document.
        var marked = await mark.First.EvaluateAsync<string>("e => e.closest('.cm-line').textContent");
        Assert.Contains("\"when\"", marked, StringComparison.Ordinal);
        Assert.Equal(0, (await RulesAsync(tenant))["version"]!.GetValue<long>());
        await page.ScreenshotAsync(new() { Path = Screenshot("rules-error.png"), FullPage = true });

        // Fixed: stored as version 1, the errors are gone.
        await ReplaceAsync(page, editor, Fixed);
        await Expect(mark).ToHaveCountAsync(0);
        await page.GetByLabel("Comment").FillAsync("Fraud alerts by SMS");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(page.GetByText("Saved as version 1.")).ToBeVisibleAsync(wait);
        await Expect(page.GetByTestId("rules-version")).ToContainTextAsync("Fraud alerts by SMS");
        Assert.Equal(1, (await RulesAsync(tenant))["version"]!.GetValue<long>());

        // A draft (unsaved) dry-run against the stored version: the sample is a fraud alert; the two plans side by side.
        await ReplaceAsync(page, editor, Draft);
        await page.GetByRole(AriaRole.Button, new() { Name = "Dry run", Exact = true }).ClickAsync();
        var draftPlan = page.GetByRole(AriaRole.Region, new() { Name = "Draft plan" });
        var currentPlan = page.GetByRole(AriaRole.Region, new() { Name = "Current (version 1) plan" });
        await Expect(draftPlan.GetByTestId("route")).ToContainTextAsync("whatsapp (delivered", new() { Timeout = (float)Deadline.TotalMilliseconds });
        await Expect(currentPlan.GetByTestId("route")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^sms \\("));
        await Expect(draftPlan.GetByTestId("matched")).ToHaveTextAsync("fraud-first");
        await Expect(currentPlan.GetByTestId("priority")).ToHaveTextAsync("critical");
        Assert.Equal(1, (await RulesAsync(tenant))["version"]!.GetValue<long>());

        // Or against a past notification: its type and priority become the sample, and the dry run goes again.
        var past = await tenant.SendAsync(new { type = "card.blocked", priority = "low", customer = new { phone = TestData.Phone() } });
        await page.GetByLabel("Past notification id").FillAsync(past.ToString());
        await page.GetByRole(AriaRole.Button, new() { Name = "Use it" }).ClickAsync();
        await Expect(page.GetByText($"Rebuilt from notification {past}")).ToBeVisibleAsync(wait);
        await Expect(page.GetByRole(AriaRole.Textbox, new() { Name = "Sample notification" })).ToContainTextAsync("card.blocked");
        await page.GetByRole(AriaRole.Button, new() { Name = "Dry run", Exact = true }).ClickAsync();
        await Expect(draftPlan.GetByTestId("matched")).ToHaveTextAsync("none", new() { Timeout = (float)Deadline.TotalMilliseconds });
        await Expect(currentPlan.GetByTestId("priority")).ToHaveTextAsync("low");

        // Saved as version 2; its diff in the history shows the added channel.
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(page.GetByText("Saved as version 2.")).ToBeVisibleAsync(wait);
        var versions = page.GetByRole(AriaRole.Table, new() { Name = "Rule set versions" });
        await Expect(versions.GetByRole(AriaRole.Row)).ToHaveCountAsync(3, new() { Timeout = (float)Deadline.TotalMilliseconds });
        await page.GetByRole(AriaRole.Button, new() { Name = "Diff of version 2" }).ClickAsync();
        var diff = page.GetByRole(AriaRole.Figure, new() { Name = "Changes in version 2" });
        await Expect(diff.Locator(".diff-added")).ToContainTextAsync("whatsapp", new() { Timeout = (float)Deadline.TotalMilliseconds });
        await Expect(diff.Locator(".diff-removed")).ToHaveCountAsync(0);
        await page.ScreenshotAsync(new() { Path = Screenshot("rules.png"), FullPage = true });

        // Roll back to version 1 (asked twice): version 3 carries version 1's rules, and the editor shows them.
        await page.GetByRole(AriaRole.Button, new() { Name = "Roll back to version 1" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Confirm rollback to version 1" }).ClickAsync();
        await Expect(page.GetByText("Rolled back: version 3 is version 1's rules.")).ToBeVisibleAsync(wait);
        await Expect(editor).Not.ToContainTextAsync("whatsapp");
        var stored = await RulesAsync(tenant);
        Assert.Equal(3, stored["version"]!.GetValue<long>());
        Assert.Equal(1, stored["rolledBackFrom"]!.GetValue<long>());
        Assert.Equal("sms", stored["document"]!["rules"]![0]!["then"]!["channels"]![0]!.GetValue<string>());
        await Expect(versions.GetByRole(AriaRole.Row)).ToHaveCountAsync(4, new() { Timeout = (float)Deadline.TotalMilliseconds });

        // Phone width: the page reflows to one column, no sideways scrolling.
        await page.SetViewportSizeAsync(390, 844);
        await page.ScreenshotAsync(new() { Path = Screenshot("rules-phone.png"), FullPage = true });
        await AssertFitsAsync(page, 390);
    }

    [Fact]
    public async Task Viewer_SeesTheRulesReadOnly_WithoutSaveOrRollback()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        using (var put = await tenant.PutAsync("/v1/rules", new StringContent(Fixed, System.Text.Encoding.UTF8, "application/json")))
        {
            put.EnsureSuccessStatusCode();
        }

        using var created = await tenant.PostAsJsonAsync("/v1/keys", new { name = "support desk", roles = new[] { "viewer" } });
        created.EnsureSuccessStatusCode();
        var viewerKey = (await created.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, viewerKey);

        await page.GotoAsync("/console/rules");
        var editor = page.GetByRole(AriaRole.Textbox, new() { Name = "Rule set" });
        await Expect(editor).ToContainTextAsync("fraud-first", new() { Timeout = (float)Deadline.TotalMilliseconds });
        await Expect(editor).ToHaveAttributeAsync("aria-readonly", "true");
        await Expect(editor).ToHaveAttributeAsync("contenteditable", "false");
        await Expect(page.GetByText("Read-only")).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Save" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Rule set versions" }).GetByRole(AriaRole.Row)).ToHaveCountAsync(2);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Roll back to version 1" })).ToHaveCountAsync(0);
    }

    /// <summary>A new 1280×800 browser page signed in with <paramref name="key"/>, on the overview.</summary>
    internal static async Task<IPage> SignInAsync(Chrome browser, HeraldHost host, string key)
    {
        var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 }, BaseURL = host.BaseUrl });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/console/");
        await page.GetByLabel("API key").FillAsync(key);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
        return page;
    }

    /// <summary>Replaces an editor's whole text as a person would: select all, then type (inserted at once).</summary>
    internal static async Task ReplaceAsync(IPage page, ILocator editor, string text)
    {
        // Focused through the element, not a click at a place the page's layout may still be moving (the editor's
        // chunk loads lazily); then the text must be there before the test goes on.
        await editor.FocusAsync();
        await Expect(editor).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("ControlOrMeta+A");
        await page.Keyboard.InsertTextAsync(text);
        await Expect(editor).ToContainTextAsync(text.Split('\n')[0].Trim(), new() { Timeout = (float)Deadline.TotalMilliseconds });
    }

    private static async Task<JsonObject> RulesAsync(HttpClient tenant) =>
        (await tenant.GetFromJsonAsync<JsonObject>("/v1/rules"))!;
}
