using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Webhooks;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Push action callbacks (issue #16): the bank's app posts the choice a customer tapped under a push notification to
/// <c>POST /callbacks/push/{accountId}</c>, signed with the FCM account's <c>callbackSecret</c> like Herald's own webhooks.
/// A good tap becomes the notification's reply (once, however often the app posts it); a bad signature, a stale
/// timestamp, another tenant's notification or a malformed body are refused and store nothing.
/// </summary>
public sealed class PushCallbackTests(PostgresTwoWayHostFixture fixture) : IClassFixture<PostgresTwoWayHostFixture>
{
    private static readonly object[] ConfirmBlock = [new { id = "confirm", title = "Yes, it was me" }, new { id = "block", title = "No, block it" }];

    private HeraldHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private DateTimeOffset Now => Host.Services.GetRequiredService<TimeProvider>().GetUtcNow();

    [Fact]
    public async Task Tap_SignedByTheApp_IsTheNotificationsReply_Once_HoweverOftenItIsPosted()
    {
        var (client, account, secret) = await TenantAsync("Push taps");
        var id = await SendPushAsync(client);
        var body = Tap(id, "block");

        using (var first = await PostAsync(account, body, WebhookSignature.Sign(secret, Now, Encoding.UTF8.GetBytes(body))))
        {
            Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        }

        // The app did not see the answer and posts the same tap again, signed anew.
        using (var again = await PostAsync(account, body, WebhookSignature.Sign(secret, Now, Encoding.UTF8.GetBytes(body))))
        {
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        }

        var reply = Assert.Single((await client.GetNotificationAsync(id))["replies"]!.AsArray())!;
        Assert.Equal("block", reply.Str("actionId"));
        Assert.Equal("push", reply.Str("channel"));
        Assert.Equal("notification.reply", reply.Str("type"));
        Assert.False(reply["late"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Tap_BadSignature_OrStaleTimestamp_Is401_AndNothingIsStored()
    {
        var (client, account, secret) = await TenantAsync("Push forgers");
        var id = await SendPushAsync(client);
        var body = Tap(id, "confirm");
        var bytes = Encoding.UTF8.GetBytes(body);

        using (var wrongKey = await PostAsync(account, body, WebhookSignature.Sign(secret + "x", Now, bytes)))
        using (var none = await PostAsync(account, body, null))
        using (var stale = await PostAsync(account, body, WebhookSignature.Sign(secret, Now - TimeSpan.FromMinutes(10), bytes)))
        using (var tampered = await PostAsync(account, body.Replace("confirm", "block", StringComparison.Ordinal), WebhookSignature.Sign(secret, Now, bytes)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, stale.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, tampered.StatusCode);
        }

        Assert.Null((await client.GetNotificationAsync(id))["replies"]);
    }

    [Fact]
    public async Task Tap_NamingAnotherTenantsNotification_IsRefused_AndNothingIsStoredForEither()
    {
        var (victim, _, _) = await TenantAsync("Push victim");
        var (attackerTenant, attacker) = await Host.CreateTenantAsync("Push attacker");
        var (_, attackerAccount, attackerSecret) = await EnableAsync(attacker);
        var victims = await SendPushAsync(victim);
        var body = Tap(victims, "block");

        using var response = await PostAsync(attackerAccount, body, WebhookSignature.Sign(attackerSecret, Now, Encoding.UTF8.GetBytes(body)));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>(Ct);
        Assert.Equal("/notificationId", Assert.Single(problem!["errors"]!.AsArray())!.Str("pointer"));
        Assert.Null((await victim.GetNotificationAsync(victims))["replies"]);
        Assert.Empty(await Host.Services.GetRequiredService<ICustomerMessageStore>().ListConversationAsync(attackerTenant, "nobody", ["device-1"], null, 10, Ct));
    }

    [Fact]
    public async Task Tap_MalformedBody_Is400_WithEachFieldLocated()
    {
        var (client, account, secret) = await TenantAsync("Push malformed");
        var body = """{"id":"has space","notificationId":"nope","actionId":""}""";

        using var response = await PostAsync(account, body, WebhookSignature.Sign(secret, Now, Encoding.UTF8.GetBytes(body)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>(Ct);
        Assert.Equal(["/actionId", "/device", "/id", "/notificationId"], problem!["errors"]!.AsArray().Select(e => e.Str("pointer")).Order());
    }

    [Fact]
    public async Task Tap_BodyOverTheCap_Is413_EvenWithoutALength()
    {
        var (_, account, secret) = await TenantAsync("Push flood");
        var body = new string('x', 5000);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/callbacks/push/{account}")
        {
            // A stream without a length goes chunked: the cap must hold while it streams in.
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body))),
        };
        request.Headers.TryAddWithoutValidation(WebhookSignature.Header, WebhookSignature.Sign(secret, Now, Encoding.UTF8.GetBytes(body)));
        request.Headers.TransferEncodingChunked = true;
        using var client = Host.Client();

        using var response = await client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    private static string Tap(Guid notificationId, string actionId) =>
        $$"""{"id":"{{Guid.NewGuid():N}}","notificationId":"{{notificationId}}","actionId":"{{actionId}}","device":"device-1"}""";

    private async Task<(HttpClient Client, string Account, string Secret)> TenantAsync(string name)
    {
        var (_, client) = await Host.CreateTenantAsync(name);
        var (_, account, secret) = await EnableAsync(client);
        return (client, account, secret);
    }

    /// <summary>Gives the tenant's sandbox FCM account a callback secret.</summary>
    private static async Task<(HttpClient Client, string Account, string Secret)> EnableAsync(HttpClient client)
    {
        var account = (await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Single(p => p.Str("kind") == "fcm")!.Str("id");
        var secret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        using var response = await client.PatchAsJsonAsync($"/v1/providers/{account}", new { settings = new { callbackSecret = secret } }, Ct);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        return (client, account, secret);
    }

    private static async Task<Guid> SendPushAsync(HttpClient client)
    {
        var id = await client.SendAsync(new
        {
            type = "fraud.alert", customer = new { pushToken = "fcm:" + Guid.NewGuid().ToString("N") }, channels = new[] { "push" },
            data = new { text = "Card *1234: 950.00 EUR. Was this you?" }, actions = ConfirmBlock,
        });
        await client.WaitForStatusAsync(id, "delivered");
        return id;
    }

    private async Task<HttpResponseMessage> PostAsync(string account, string body, string? signature)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/callbacks/push/{account}") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation(WebhookSignature.Header, signature);
        }

        using var client = Host.Client();
        return await client.SendAsync(request, Ct);
    }
}
