using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.Channels.Providers;
using Herald.Channels.Telegram;
using Herald.EndToEnd.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// <c>POST /callbacks/telegram/{secret}</c> (SPEC §3, issue #14): Telegram's webhook, set with
/// <c>setWebhook(url=…/callbacks/telegram/{webhookSecret}, secret_token={webhookSecret})</c>. Bound to the one bot account
/// with that secret; the <c>X-Telegram-Bot-Api-Secret-Token</c> header must match it; updates are acknowledged.
/// </summary>
public sealed class TelegramCallbackTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    // The message update of Telegram's webhook guide (https://core.telegram.org/bots/webhooks, "Testing your bot").
    private const string DocumentedUpdate = """
        {"update_id":10000,"message":{"date":1441645532,"chat":{"last_name":"Test Lastname","id":1111111,"type":"private","first_name":"Test Firstname","username":"Testusername"},"message_id":1365,"from":{"last_name":"Test Lastname","id":1111111,"first_name":"Test Firstname","username":"Testusername"},"text":"/start"}}
        """;

    private HeraldHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UpdateWithTheBotsSecretInPathAndHeader_IsAcknowledged()
    {
        var secret = await WebhookSecretAsync("Telegram Bank");

        using var response = await PostAsync(secret, secret, DocumentedUpdate);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task WrongOrMissingHeader_UnknownSecret_OrAnotherBotsHeader_AreRefused()
    {
        var secret = await WebhookSecretAsync("Bank A");
        var other = await WebhookSecretAsync("Bank B");

        foreach (var (path, header) in new[] { (secret, (string?)null), (secret, secret + "x"), (secret, other), ("not-a-secret-of-any-bot", "not-a-secret-of-any-bot"), (other, secret) })
        {
            using var response = await PostAsync(path, header, DocumentedUpdate);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task NotAnUpdate_IsALocated400()
    {
        var secret = await WebhookSecretAsync("Bank C");

        foreach (var body in new[] { "{\"message\":{}}", "[1]", "{\"update_id\":\"x\"}", "not json" })
        {
            using var response = await PostAsync(secret, secret, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
            Assert.Equal("/update_id", problem["errors"]![0].Str("pointer"));
        }
    }

    /// <summary>A new tenant's sandbox bot account's webhook secret, as stored (the API redacts it).</summary>
    private async Task<string> WebhookSecretAsync(string tenantName)
    {
        var (tenantId, client) = await Host.CreateTenantAsync(tenantName);
        var id = (await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Single(p => p.Str("kind") == "telegram-bot")!.Str("id");
        var directory = Host.Services.GetRequiredService<ProviderDirectory>();
        var account = directory.Find(Guid.Parse(id));
        Assert.Equal(tenantId, account!.TenantId);
        return TelegramSettings.Parse(account.Settings).WebhookSecret!;
    }

    private async Task<HttpResponseMessage> PostAsync(string pathSecret, string? header, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/callbacks/telegram/" + Uri.EscapeDataString(pathSecret))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (header is not null)
        {
            request.Headers.TryAddWithoutValidation(TelegramWebhook.SecretHeader, header);
        }

        using var client = Host.Client();
        return await client.SendAsync(request, Ct);
    }
}
