using System.Net;
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
/// The console's Customers page in a real browser against a real Herald host: an admin finds a customer in the list,
/// reads its contacts, preferences, consent ledger and recent notifications, edits it with an error (shown at its
/// field, nothing stored), fixes it, and erases it after a confirmation that names what is kept; the ledger entry
/// stays with its address gone. A viewer sees the contacts redacted and nothing to change. Takes
/// docs/screenshots/customers.png.
/// </summary>
public sealed class CustomersPageTests
{
    [Fact]
    public async Task Admin_OpensACustomer_EditsWithAnErrorThenFixesIt_ErasesIt_AndSeesTheRedaction()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        var phone = TestData.Phone();
        await PutCustomerAsync(tenant, "C-42", new { phone, email = "ana@example.com", language = "de", timeZone = "Europe/Berlin" });
        using (var consent = await tenant.PostAsJsonAsync("/v1/consents", new { customerId = "C-42", channel = "sms", action = "opt_out", type = "marketing" }))
        {
            Assert.Equal(HttpStatusCode.Created, consent.StatusCode);
        }

        var sent = await tenant.SendAsync(new { type = "payment.received", externalId = "tx-42", customer = new { id = "C-42" } });
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, tenant.DefaultRequestHeaders.Authorization!.Parameter!);
        var wait = new LocatorAssertionsToContainTextOptions { Timeout = (float)Deadline.TotalMilliseconds };

        // The list, then the customer: contacts, preferences, the ledger and the notification (a link to its trace).
        await page.GetByRole(AriaRole.Link, new() { Name = "Customers" }).ClickAsync();
        await page.GetByRole(AriaRole.Table, new() { Name = "Stored customers" }).GetByRole(AriaRole.Link, new() { Name = "C-42" }).ClickAsync();
        await Expect(page.GetByTestId("phone")).ToHaveTextAsync(phone, new() { Timeout = (float)Deadline.TotalMilliseconds });
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Consent ledger" })).ToContainTextAsync("opt-out", wait);
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Consent ledger" })).ToContainTextAsync("marketing", wait);
        var notifications = page.GetByRole(AriaRole.Table, new() { Name = "Recent notifications" });
        await Expect(notifications).ToContainTextAsync("tx-42", wait);
        Assert.EndsWith($"/console/notifications/{sent}", await notifications.GetByRole(AriaRole.Link).First.GetAttributeAsync("href"), StringComparison.Ordinal);

        // Edit with an error: said at the phone field, nothing stored.
        await page.GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        var phoneField = page.GetByLabel("Phone (E.164)");
        await phoneField.FillAsync("12345");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add opt-out" }).ClickAsync();
        await page.GetByRole(AriaRole.Group, new() { Name = "Opt-out 1" }).GetByLabel("Channel").SelectOptionAsync("email");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save customer" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("The customer is invalid.", wait);
        await Expect(phoneField).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.Locator("#error-phone")).ToContainTextAsync("E.164", wait);
        Assert.Equal(phone, (await CustomerAsync(tenant, "C-42"))!["phone"]!.GetValue<string>());

        // Fixed: saved, shown, stored.
        var newPhone = TestData.Phone();
        await phoneField.FillAsync(newPhone);
        await page.GetByRole(AriaRole.Button, new() { Name = "Save customer" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Saved" })).ToContainTextAsync("Saved C-42.", wait);
        await Expect(page.GetByTestId("phone")).ToHaveTextAsync(newPhone);
        await Expect(page.GetByTestId("opt-outs")).ToHaveTextAsync("email");
        var stored = (await CustomerAsync(tenant, "C-42"))!;
        Assert.Equal(newPhone, stored["phone"]!.GetValue<string>());
        Assert.Equal("email", Assert.Single(stored["optOuts"]!.AsArray())!["channel"]!.GetValue<string>());
        await page.ScreenshotAsync(new() { Path = Screenshot("customers.png"), FullPage = true });

        // Erase: the dialog names what goes and what stays; Keep changes nothing, Erase erases.
        await page.GetByRole(AriaRole.Button, new() { Name = "Erase…" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Erase customer C-42?" });
        await Expect(dialog).ToContainTextAsync("Kept, without personal data");
        await Expect(dialog.GetByRole(AriaRole.Button, new() { Name = "Keep" })).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(dialog).ToBeHiddenAsync();
        Assert.NotNull(await CustomerAsync(tenant, "C-42"));

        await page.GetByRole(AriaRole.Button, new() { Name = "Erase…" }).ClickAsync();
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Erase C-42" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Erased" })).ToContainTextAsync("the stored customer deleted", wait);
        await Expect(page.GetByText("No stored customer with this id.")).ToBeVisibleAsync();
        // The ledger's entry stays (the evidence), its address is gone.
        await Expect(page.GetByTestId("consent-address")).ToHaveTextAsync("[erased]", new() { Timeout = (float)Deadline.TotalMilliseconds });
        Assert.Null(await CustomerAsync(tenant, "C-42"));

        await page.SetViewportSizeAsync(390, 844);
        await AssertFitsAsync(page, 390);
    }

    [Fact]
    public async Task Viewer_SeesTheContactsRedacted_AndNothingToChange()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        var (_, tenant) = await host.CreateTenantAsync();
        await PutCustomerAsync(tenant, "C-7", new { phone = TestData.Phone(), email = "bo@example.com", language = "en" });
        using var created = await tenant.PostAsJsonAsync("/v1/keys", new { name = "support desk", roles = new[] { "viewer" } });
        created.EnsureSuccessStatusCode();
        var viewerKey = (await created.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
        await using var browser = await LaunchAsync();
        var page = await SignInAsync(browser, host, viewerKey);

        await page.GotoAsync("/console/customers/C-7");
        await Expect(page.GetByTestId("phone")).ToHaveTextAsync("[redacted]", new() { Timeout = (float)Deadline.TotalMilliseconds });
        await Expect(page.GetByTestId("email")).ToHaveTextAsync("[redacted]");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Edit" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Erase…" })).ToHaveCountAsync(0);
    }

    internal static async Task PutCustomerAsync(HttpClient tenant, string id, object customer)
    {
        using var put = await tenant.PutAsJsonAsync($"/v1/customers/{id}", customer);
        put.EnsureSuccessStatusCode();
    }

    private static async Task<JsonObject?> CustomerAsync(HttpClient tenant, string id)
    {
        using var response = await tenant.GetAsync($"/v1/customers/{id}");
        return response.StatusCode == HttpStatusCode.NotFound ? null : (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }
}
