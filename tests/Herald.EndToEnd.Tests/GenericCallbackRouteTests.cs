using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.Channels.Providers;
using Herald.Channels.Sms;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Herald.Core.Providers;
using Herald.EndToEnd.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// <c>/callbacks/{kind}/{accountId}</c> on the real host (issue #15): the one route every channel's callbacks are
/// served on, with the Server's problem+json answers. The older per-channel paths are its aliases (their own tests:
/// TelegramCallbackTests, EmailBounceTests, SmallerDoorsTests, ReceiptIsolationTests).
/// </summary>
public sealed class GenericCallbackRouteTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    private const string Update = """{"update_id":10001,"message":{"message_id":1,"date":1441645532,"chat":{"id":1,"type":"private"},"text":"hi"}}""";

    private HeraldHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Telegram_OnTheGenericRoute_TheAccountsSecretHeaderIsTaken_AnythingElseRefused()
    {
        var bot = await SandboxAccountAsync("Generic Telegram", TelegramBotConnector.ConnectorKind);
        var secret = TelegramSettings.Parse(bot.Settings).WebhookSecret!;
        var path = $"/callbacks/{TelegramBotConnector.ConnectorKind}/{bot.Id}";

        using (var taken = await PostAsync(path, Update, "application/json", (TelegramWebhook.SecretHeader, secret)))
        {
            Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
        }

        foreach (var header in new[] { secret + "x", "" })
        {
            using var refused = await PostAsync(path, Update, "application/json", (TelegramWebhook.SecretHeader, header));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task UnknownAccount_AnotherKindsAccount_AndAnUnknownKind_Are404Problems()
    {
        var bot = await SandboxAccountAsync("Generic 404", TelegramBotConnector.ConnectorKind);

        foreach (var path in new[]
        {
            $"/callbacks/{TelegramBotConnector.ConnectorKind}/{Guid.NewGuid()}",
            $"/callbacks/{TwilioSmsConnector.ConnectorKind}/{bot.Id}",
            $"/callbacks/pager-gateway/{bot.Id}",
        })
        {
            using var response = await PostAsync(path, Update, "application/json", (TelegramWebhook.SecretHeader, TelegramSettings.Parse(bot.Settings).WebhookSecret!));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task Twilio_OnTheGenericRoute_SignedOverTheConfiguredUrl_IsTaken_AForgedSignatureIs403()
    {
        var sms = await SandboxAccountAsync("Generic SMS", TwilioSmsConnector.ConnectorKind);
        var settings = TwilioSettings.Parse(sms.Settings);
        const string form = "MessageSid=SMgeneric0000000000000000000000001&MessageStatus=delivered";
        var parameters = TwilioStatusCallback.ParseForm(form);
        var path = $"/callbacks/{TwilioSmsConnector.ConnectorKind}/{sms.Id}";

        using (var taken = await PostAsync(path, form, "application/x-www-form-urlencoded",
            (TwilioStatusCallback.SignatureHeader, TwilioStatusCallback.Sign(settings.StatusCallbackFor(sms.Id)!, parameters, settings.AuthToken))))
        {
            Assert.Equal(HttpStatusCode.NoContent, taken.StatusCode);
        }

        using var forged = await PostAsync(path, form, "application/x-www-form-urlencoded",
            (TwilioStatusCallback.SignatureHeader, TwilioStatusCallback.Sign(settings.StatusCallbackFor(sms.Id)!, parameters, "not-the-token")));
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        Assert.Equal("application/problem+json", forged.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task WhatsApp_HandshakeOnTheGenericRoute_EchoesOnlyForThatAccountsVerifyToken()
    {
        var wa = await SandboxAccountAsync("Generic WhatsApp", WhatsAppCloudConnector.ConnectorKind);
        var other = await SandboxAccountAsync("Generic WhatsApp B", WhatsAppCloudConnector.ConnectorKind);
        var token = WhatsAppSettings.Parse(wa.Settings).VerifyToken!;
        using var client = Host.Client();

        var echo = await client.GetAsync($"/callbacks/{WhatsAppCloudConnector.ConnectorKind}/{wa.Id}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444", Ct);
        Assert.Equal(HttpStatusCode.OK, echo.StatusCode);
        Assert.Equal("1158201444", await echo.Content.ReadAsStringAsync(Ct));

        // Another account's token does not open this account's route (the alias without an account takes any).
        var refused = await client.GetAsync($"/callbacks/{WhatsAppCloudConnector.ConnectorKind}/{other.Id}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1", Ct);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    /// <summary>A new tenant's sandbox account of <paramref name="kind"/>, as stored (the API redacts its secrets).</summary>
    private async Task<ProviderAccount> SandboxAccountAsync(string tenantName, string kind)
    {
        var (_, client) = await Host.CreateTenantAsync(tenantName);
        var id = (await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Single(p => p.Str("kind") == kind)!.Str("id");
        return Host.Services.GetRequiredService<ProviderDirectory>().Find(Guid.Parse(id))!;
    }

    private async Task<HttpResponseMessage> PostAsync(string path, string body, string contentType, (string Name, string Value) header)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, contentType) };
        request.Headers.TryAddWithoutValidation(header.Name, header.Value);
        using var client = Host.Client();
        return await client.SendAsync(request, Ct);
    }
}
