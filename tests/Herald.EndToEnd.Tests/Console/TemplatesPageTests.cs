using System.Net.Http.Json;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Playwright;
using static Herald.EndToEnd.Tests.Console.ConsoleBrowserTests;
using static Herald.EndToEnd.Tests.Console.RulesPageTests;
using static Microsoft.Playwright.Assertions;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>
/// The console's Templates page in a real browser against a real Herald host: the live preview renders the editor's
/// text with the sample data as delivery would (POST /v1/templates/preview) and shows the size against the channel's
/// limit; a Liquid error is marked in the editor; the template is saved and listed; an email template previews its
/// subject. Takes docs/screenshots/templates.png.
/// </summary>
public sealed class TemplatesPageTests
{
    [Fact]
    public async Task Admin_WritesATemplate_SeesTheLivePreviewAndItsLimit_AnErrorInPlace_SavesIt()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, tenant.DefaultRequestHeaders.Authorization!.Parameter!);
        var wait = new LocatorAssertionsToContainTextOptions { Timeout = (float)Deadline.TotalMilliseconds };

        await page.GetByRole(AriaRole.Link, new() { Name = "Templates" }).ClickAsync();
        await Expect(page.GetByText("No templates yet")).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
        var body = page.GetByRole(AriaRole.Textbox, new() { Name = "Body", Exact = true });
        var preview = page.GetByTestId("preview");

        // Live: the preview follows the editor, with the sample data and customer name, and the SMS size.
        await ReplaceAsync(page, body, "Hi {{ customer.name }}, {{ data.amount }} at {{ data.merchant }}.");
        await Expect(preview).ToContainTextAsync("Hi Ana, 129.5 at Example Shop.", wait);
        await Expect(page.GetByTestId("size-body")).ToContainTextAsync("1 SMS segment", wait);
        await page.GetByLabel("Customer name").FillAsync("Bruno");
        await Expect(preview).ToContainTextAsync("Hi Bruno,", wait);

        // A Liquid error: said in words and marked in the editor; nothing is rendered.
        await ReplaceAsync(page, body, "Hi {{ customer.name }},\n{% if data.amount %}big");
        await Expect(page.GetByRole(AriaRole.Alert).First).ToContainTextAsync("line 2", wait);
        await Expect(page.Locator(".cm-lintRange-error").First).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
        await Expect(preview).ToHaveCountAsync(0);

        // Fixed and saved: listed, and stored as the API answers it.
        await ReplaceAsync(page, body, "Hi {{ customer.name }}, {{ data.amount }} at {{ data.merchant }}.");
        await Expect(preview).ToContainTextAsync("Hi Bruno, 129.5", wait);
        await page.GetByRole(AriaRole.Button, new() { Name = "Save template" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Saved" })).ToContainTextAsync("card.transaction (sms) version 1", wait);
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Templates" })).ToContainTextAsync("card.transaction", wait);
        var stored = Assert.Single((await tenant.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>("/v1/templates"))!)!;
        Assert.Equal("sms", stored.Str("channel"));

        // Email in German: a subject of its own, previewed with the language.
        await page.GetByRole(AriaRole.Combobox, new() { Name = "Channel" }).SelectOptionAsync("email");
        await page.GetByLabel("Language").FillAsync("de");
        await page.GetByLabel("Subject").FillAsync("Zahlung bei {{ data.merchant }}");
        await Expect(preview).ToContainTextAsync("Zahlung bei Example Shop", wait);
        await Expect(preview).ToContainTextAsync("email · de", wait);
        await Expect(page.GetByTestId("size-subject")).ToContainTextAsync("24", wait);
        await page.ScreenshotAsync(new() { Path = Screenshot("templates.png"), FullPage = true });

        await page.SetViewportSizeAsync(390, 844);
        await AssertFitsAsync(page, 390);
    }
}
