using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.Channels.WhatsApp;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Sandbox;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>A PostgreSQL host whose clock the window tests move (24 hours pass without waiting for them).</summary>
public sealed class WhatsAppWindowHostFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public ShiftedTimeProvider Clock { get; } = new();

    public HeraldHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync() =>
        Host = await HeraldHost.StartAsync(
            HeraldRole.All, HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_window_" + Guid.NewGuid().ToString("N")[..8])),
            configure: b => b.Services.AddSingleton<TimeProvider>(Clock));

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>
/// WhatsApp's 24-hour customer-service window end to end (issue #16), through the sandbox's simulator, which keeps to it
/// like Meta for numbers ending in <see cref="MagicRecipients.WhatsAppWindowEnforced"/> (free-form outside it: 131047).
/// The tenant's WhatsApp account enforces the window (<c>serviceWindow: "enforce"</c>): a customer who never wrote gets
/// the template; without a template the next channel takes over at once, WhatsApp never asked; once the customer writes
/// in, a question goes as interactive reply buttons; 24 hours later (the host's clock moved) the template again.
/// </summary>
public sealed class WhatsAppWindowTests(WhatsAppWindowHostFixture fixture) : IClassFixture<WhatsAppWindowHostFixture>
{
    private static readonly object[] ConfirmBlock = [new { id = "confirm", title = "Yes, it was me" }, new { id = "block", title = "No, block it" }];

    private HeraldHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ClosedWindow_SendsTheTemplate_CustomerWritesIn_ThenReplyButtons_AndADayLater_TheTemplateAgain()
    {
        var (_, client) = await Host.CreateTenantAsync("Window template");
        await EnforceWindowAsync(client);
        await SaveTemplateAsync(client, new
        {
            name = "fraud.alert", channel = "whatsapp", body = "Card {{ data.card }}: {{ data.amount }}. Was this you?",
            whatsApp = new { name = "fraud_alert", language = "en_US", parameters = new[] { "data.card", "data.amount" } },
        });
        var phone = TestData.Phone(MagicRecipients.WhatsAppWindowEnforced);
        object Alert() => new
        {
            type = "fraud.alert", customer = new { phone }, channels = new[] { "whatsapp" },
            data = new { card = "*1234", amount = "950.00 EUR" }, actions = ConfirmBlock,
        };

        // Never wrote in: only the approved template may go.
        var first = await client.SendAsync(Alert());
        await client.WaitForStatusAsync(first, "delivered");
        var template = Assert.Single(await client.SandboxMessagesAsync("whatsapp", phone))!;
        Assert.Equal("fraud_alert", template["template"].Str("name"));

        // The customer writes: the window opens, and the next question goes free-form, as reply buttons.
        using (var sandbox = Host.SandboxClient())
        using (var reply = await sandbox.PostAsJsonAsync("/sandbox/replies", new { channel = "whatsapp", from = phone, text = "what is this?" }, Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, reply.StatusCode);
            Assert.Equal(200, (await reply.Content.ReadFromJsonAsync<JsonObject>(Ct))!["heraldStatus"]!.GetValue<int>());
        }

        var second = await client.SendAsync(Alert());
        await client.WaitForStatusAsync(second, "delivered");
        var buttons = (await client.SandboxMessagesAsync("whatsapp", phone)).Single(m => m!["template"] is null)!;
        Assert.Equal(["confirm", "block"], buttons["buttons"]!.AsArray().Select(b => b.Str("id")));
        Assert.Equal("Card *1234: 950.00 EUR. Was this you?", buttons.Str("text"));

        // A day and a minute later the window has closed: the template again.
        fixture.Clock.Advance(TimeSpan.FromHours(24) + TimeSpan.FromMinutes(1));
        var third = await client.SendAsync(Alert());
        await client.WaitForStatusAsync(third, "delivered");
        Assert.Equal(2, (await client.SandboxMessagesAsync("whatsapp", phone)).Count(m => m!["template"] is not null));
    }

    [Fact]
    public async Task ClosedWindow_WithoutTemplate_FallsBackToSms_AtOnce_WithoutAskingWhatsApp()
    {
        var (_, client) = await Host.CreateTenantAsync("Window fallback");
        await EnforceWindowAsync(client);
        var phone = TestData.Phone(MagicRecipients.WhatsAppWindowEnforced);

        var id = await client.SendAsync(new
        {
            type = "fraud.alert", customer = new { phone }, channels = new[] { "whatsapp", "sms" },
            data = new { text = "Card *1234: 950.00 EUR. Was this you?" }, actions = ConfirmBlock,
        });

        var n = await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal("sms", n.Str("channel"));
        var whatsApp = n.Attempts()[0]!;
        Assert.Equal("whatsapp", whatsApp.Str("channel"));
        Assert.Equal("failed", whatsApp.Str("state"));
        // Herald's own refusal, not Meta's 131047: the simulator never saw the message, and nothing was billed.
        Assert.Equal(WhatsAppCloudConnector.WindowClosedCode, whatsApp.Str("errorCode"));
        Assert.Null(whatsApp["cost"]);
        Assert.Empty(await client.SandboxMessagesAsync("whatsapp", phone));
        Assert.Single(await client.SandboxMessagesAsync("sms", phone));
    }

    [Fact]
    public async Task ServiceWindowSetting_OtherThanEnforceOrOff_IsRefusedAtItsField()
    {
        var (_, client) = await Host.CreateTenantAsync("Window setting");
        var account = await WhatsAppAccountIdAsync(client);

        using var response = await client.PatchAsJsonAsync($"/v1/providers/{account}", new { settings = new { serviceWindow = "sometimes" } }, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>(Ct);
        Assert.StartsWith("/settings", Assert.Single(problem!["errors"]!.AsArray())!.Str("pointer"), StringComparison.Ordinal);
    }

    private async Task EnforceWindowAsync(HttpClient client)
    {
        var account = await WhatsAppAccountIdAsync(client);
        using var response = await client.PatchAsJsonAsync($"/v1/providers/{account}", new { settings = new { serviceWindow = "enforce" } }, Ct);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
    }

    private static async Task<string> WhatsAppAccountIdAsync(HttpClient client) =>
        (await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Single(p => p.Str("kind") == WhatsAppCloudConnector.ConnectorKind)!.Str("id");

    private static async Task SaveTemplateAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("/v1/templates", body, Ct);
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
    }
}
