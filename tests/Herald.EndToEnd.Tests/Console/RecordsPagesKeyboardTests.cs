using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Playwright;
using static Herald.EndToEnd.Tests.Console.ConsoleBrowserTests;
using static Microsoft.Playwright.Assertions;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>
/// The Customers, Sources and Webhooks pages by keyboard alone: sign in, reach each page from the navigation, and act
/// on one of its controls (create a customer, create a source, open the new-endpoint form), never with the mouse.
/// </summary>
public sealed class RecordsPagesKeyboardTests
{
    [Fact]
    public async Task KeyboardOnly_ReachesCustomersSourcesAndWebhooks_AndActsOnEach()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        await using var browser = await LaunchAsync();
        var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 }, BaseURL = host.BaseUrl });
        var page = await context.NewPageAsync();
        var visible = new LocatorAssertionsToBeVisibleOptions { Timeout = (float)Deadline.TotalMilliseconds };

        await page.GotoAsync("/console/");
        await Expect(page.GetByLabel("API key")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(tenant.DefaultRequestHeaders.Authorization!.Parameter!);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync(visible);

        // Customers: open one by id, create it, give it a phone number.
        await FocusByKeysAsync(page, page.GetByRole(AriaRole.Link, new() { Name = "Customers" }), "Tab");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Customers" })).ToBeVisibleAsync(visible);
        await FocusByKeysAsync(page, page.GetByLabel("Customer id"), "Tab");
        await page.Keyboard.TypeAsync("C-9");
        await page.Keyboard.PressAsync("Enter");
        var create = page.GetByRole(AriaRole.Button, new() { Name = "Create customer C-9" });
        await Expect(create).ToBeVisibleAsync(visible);
        await FocusByKeysAsync(page, create, "Tab");
        await page.Keyboard.PressAsync("Enter");
        await FocusByKeysAsync(page, page.GetByLabel("Phone (E.164)"), "Tab");
        var phone = TestData.Phone();
        await page.Keyboard.TypeAsync(phone);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("phone")).ToHaveTextAsync(phone, new() { Timeout = (float)Deadline.TotalMilliseconds });
        Assert.Equal(phone, (await tenant.GetFromJsonAsync<JsonObject>("/v1/customers/C-9"))!["phone"]!.GetValue<string>());

        // Sources: back up to the navigation, then create a source from the form.
        await FocusByKeysAsync(page, page.GetByRole(AriaRole.Link, new() { Name = "Sources" }), "Shift+Tab");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sources" })).ToBeVisibleAsync(visible);
        await FocusByKeysAsync(page, page.GetByRole(AriaRole.Button, new() { Name = "New source" }), "Tab");
        await page.Keyboard.PressAsync("Enter");
        await FocusByKeysAsync(page, page.GetByLabel("Name", new() { Exact = true }), "Tab");
        await page.Keyboard.TypeAsync("Core banking");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Sources" })).ToContainTextAsync("Core banking", new() { Timeout = (float)Deadline.TotalMilliseconds });

        // Webhooks: the new-endpoint form opens from the keyboard.
        await FocusByKeysAsync(page, page.GetByRole(AriaRole.Link, new() { Name = "Webhooks" }), "Shift+Tab");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Webhooks" })).ToBeVisibleAsync(visible);
        await FocusByKeysAsync(page, page.GetByRole(AriaRole.Button, new() { Name = "New endpoint" }), "Tab");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByLabel("URL", new() { Exact = true })).ToBeVisibleAsync(visible);
    }

    /// <summary>Presses <paramref name="key"/> (Tab or Shift+Tab) until <paramref name="target"/> has the focus.</summary>
    private static async Task FocusByKeysAsync(IPage page, ILocator target, string key)
    {
        await Expect(target).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
        for (var presses = 0; presses < 80; presses++)
        {
            if (await target.EvaluateAsync<bool>("e => e === document.activeElement"))
            {
                return;
            }

            await page.Keyboard.PressAsync(key);
        }

        Assert.Fail($"{target} was not reached with {key} in 80 presses.");
    }
}
