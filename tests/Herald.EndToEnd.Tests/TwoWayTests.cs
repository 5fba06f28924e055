using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.Channels.Providers;
using Herald.Channels.WhatsApp;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.EndToEnd.Tests.Webhooks;
using Herald.Server.Hosting;
using Herald.Server.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>A host with quick webhooks, for the reply loop, on PostgreSQL or the embedded SQLite backend.</summary>
public abstract class TwoWayHostFixture : IAsyncLifetime
{
    public HeraldHost Host { get; private set; } = null!;

    protected abstract Task<Dictionary<string, string?>> SettingsAsync();

    public async ValueTask InitializeAsync()
    {
        var settings = await SettingsAsync();
        settings["Herald:Webhooks:AllowInsecureUrls"] = "true";
        settings["Herald:Webhooks:RetryBaseDelay"] = "00:00:00.050";
        settings["Herald:Webhooks:RetryMaxDelay"] = "00:00:00.300";
        settings["Herald:Webhooks:PollInterval"] = "00:00:00.050";
        Host = await HeraldHost.StartAsync(HeraldRole.All, settings);
    }

    public virtual async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

public sealed class PostgresTwoWayHostFixture(PostgresFixture postgres) : TwoWayHostFixture
{
    protected override async Task<Dictionary<string, string?>> SettingsAsync() =>
        HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_twoway_" + Guid.NewGuid().ToString("N")[..8]));
}

public sealed class SqliteTwoWayHostFixture : TwoWayHostFixture
{
    private readonly TempFolder _folder = new();

    protected override Task<Dictionary<string, string?>> SettingsAsync() => Task.FromResult(HeraldHost.SqliteSettings(_folder.Path));

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _folder.Dispose();
    }
}

public sealed class PostgresTwoWayTests(PostgresTwoWayHostFixture fixture) : TwoWayTests(fixture), IClassFixture<PostgresTwoWayHostFixture>;

public sealed class SqliteTwoWayTests(SqliteTwoWayHostFixture fixture) : TwoWayTests(fixture), IClassFixture<SqliteTwoWayHostFixture>;

/// <summary>
/// The reply loop end to end (issue #16) on the real host: a fraud alert with confirm/block goes out through the
/// sandbox as WhatsApp reply buttons (or an SMS with the choices as text), a simulated customer answers through
/// <c>POST /sandbox/replies</c> (the simulator posts the vendor's signed inbound webhook to Herald), and the bank's
/// endpoint receives <c>notification.reply</c> signed like status events; the notification shows its reply. Hostile
/// inbound bodies are refused or kept apart. Both backends run it.
/// </summary>
public abstract class TwoWayTests(TwoWayHostFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static readonly object[] ConfirmBlock = [new { id = "confirm", title = "Yes, it was me" }, new { id = "block", title = "No, block it" }];

    private HeraldHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FraudAlert_OnWhatsApp_TappedBlock_ReachesTheBankSigned_AndShowsOnTheNotification()
    {
        await using var receiver = new WebhookReceiver();
        await receiver.StartAsync();
        var (_, client) = await Host.CreateTenantAsync("Two-way WhatsApp");
        var secret = await CreateEndpointAsync(client, receiver.Url);
        var phone = TestData.Phone();
        var id = await client.SendAsync(new
        {
            type = "fraud.alert",
            customer = new { id = "ana", phone },
            channels = new[] { "whatsapp" },
            data = new { text = "Card *1234: 950.00 EUR at Electronics. Was this you?" },
            actions = ConfirmBlock,
            replyTtl = "1h",
        });
        await client.WaitForStatusAsync(id, "delivered");
        var sent = Assert.Single(await client.SandboxMessagesAsync("whatsapp", phone))!;
        Assert.Equal(["confirm", "block"], sent["buttons"]!.AsArray().Select(b => b.Str("id")));

        var answer = await ReplyAsync(new { channel = "whatsapp", from = phone, actionId = "block", inReplyTo = id.ToString() });

        Assert.Equal(200, answer["heraldStatus"]!.GetValue<int>());
        var (received, json) = await WaitForEventAsync(receiver, "notification.reply");
        Assert.True(WebhookSignature.Verify(secret, received.Signature, received.Body, TimeProvider.System.GetUtcNow(), TimeSpan.FromMinutes(5)), received.Signature);
        var data = json["data"]!;
        Assert.Equal(id, data["notificationId"]!.GetValue<Guid>());
        Assert.Equal("whatsapp", data.Str("channel"));
        Assert.Equal("ana", data.Str("customerId"));
        Assert.Equal("block", data["reply"].Str("actionId"));
        Assert.False(data["reply"]!["late"]!.GetValue<bool>());
        var reply = Assert.Single((await client.GetNotificationAsync(id))["replies"]!.AsArray())!;
        Assert.Equal("block", reply.Str("actionId"));
        Assert.Equal("notification.reply", reply.Str("type"));
        var conversation = await client.GetFromJsonAsync<JsonObject>("/v1/customers/ana/messages", Ct);
        Assert.Equal(reply.Str("id"), Assert.Single(conversation!["items"]!.AsArray())!.Str("id"));
    }

    [Fact]
    public async Task FraudAlert_OnSms_ChoicesAsText_TypedTwo_IsBlock_AndAStrayTextIsACustomerMessage()
    {
        await using var receiver = new WebhookReceiver();
        await receiver.StartAsync();
        var (_, client) = await Host.CreateTenantAsync("Two-way SMS");
        await CreateEndpointAsync(client, receiver.Url);
        var phone = TestData.Phone();
        var id = await client.SendAsync(new
        {
            type = "fraud.alert",
            customer = new { phone, language = "de" },
            channels = new[] { "sms" },
            data = new { text = "Karte *1234: 950,00 EUR. Waren Sie das?" },
            actions = ConfirmBlock,
        });
        await client.WaitForStatusAsync(id, "delivered");
        var sms = Assert.Single(await client.SandboxMessagesAsync("sms", phone))!;
        Assert.EndsWith("Antworten Sie 1 für Yes, it was me, 2 für No, block it.", sms.Str("text"), StringComparison.Ordinal);

        await ReplyAsync(new { channel = "sms", from = phone, text = "2" });

        var (_, reply) = await WaitForEventAsync(receiver, "notification.reply");
        Assert.Equal(id, reply["data"]!["notificationId"]!.GetValue<Guid>());
        Assert.Equal("block", reply["data"]!["reply"].Str("actionId"));
        Assert.Equal("sms", reply["data"].Str("channel"));

        // An answer to the same number once no question is open any more... is the same question (24 h): a text to
        // another number the tenant never asked is a customer message.
        var stranger = TestData.Phone();
        var other = await client.SendAsync(new { type = "account.balance", customer = new { phone = stranger }, channels = new[] { "sms" }, data = new { text = "Balance: 10 EUR" } });
        await client.WaitForStatusAsync(other, "delivered");
        await ReplyAsync(new { channel = "sms", from = stranger, text = "Who is this?" });
        var (_, message) = await WaitForEventAsync(receiver, "customer.message");
        Assert.Null(message["data"]!["notificationId"]);
        Assert.Equal("Who is this?", message["data"]!["reply"].Str("text"));

        // The deliveries listing names inbound events by type; they have no status of their own.
        var deliveries = (await client.GetFromJsonAsync<JsonObject>("/v1/webhooks/deliveries", Ct))!["items"]!.AsArray();
        Assert.Contains(deliveries, d => d.Str("event") == "notification.reply" && d!["status"] is null);
        Assert.Contains(deliveries, d => d.Str("event") == "customer.message");
        Assert.Contains(deliveries, d => d.Str("event") == "notification.delivered" && d.Str("status") == "delivered");
    }

    [Fact]
    public async Task FraudAlert_OnTelegram_PressedConfirm_IsAReply_AndTheKeyPressIsAnswered()
    {
        await using var receiver = new WebhookReceiver();
        await receiver.StartAsync();
        var (_, client) = await Host.CreateTenantAsync("Two-way Telegram");
        await CreateEndpointAsync(client, receiver.Url);
        var chat = Random.Shared.Next(100_000, int.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var id = await client.SendAsync(new
        {
            type = "fraud.alert",
            customer = new { telegramChatId = chat },
            channels = new[] { "telegram" },
            data = new { text = "Was this you?" },
            actions = ConfirmBlock,
        });
        await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal(["confirm", "block"], Assert.Single(await client.SandboxMessagesAsync("telegram", chat))!["buttons"]!.AsArray().Select(b => b.Str("id")));

        var answer = await ReplyAsync(new { channel = "telegram", from = chat, actionId = "confirm", inReplyTo = id.ToString() });

        Assert.Equal(200, answer["heraldStatus"]!.GetValue<int>());
        var (_, reply) = await WaitForEventAsync(receiver, "notification.reply");
        Assert.Equal(id, reply["data"]!["notificationId"]!.GetValue<Guid>());
        Assert.Equal("confirm", reply["data"]!["reply"].Str("actionId"));
        Assert.Equal("telegram", reply["data"].Str("channel"));
        Assert.NotEmpty(Host.Services.GetRequiredService<Herald.Sandbox.Telegram.TelegramSimulator>().AnsweredCallbackQueries);
    }

    [Fact]
    public async Task Inbound_BadSignature_Is401_AndNothingIsStored()
    {
        var (_, client) = await Host.CreateTenantAsync("Two-way forged");
        var account = await AccountAsync(client, WhatsAppCloudConnector.ConnectorKind);
        var body = InboundBody(WhatsAppSettings.Parse(account.Settings).PhoneNumberId, "4915100000001", "wamid.unknown", "confirm");

        using var response = await PostWhatsAppAsync(account.Id, body, "sha256=" + new string('0', 64));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Inbound_NamingAnotherTenantsNotification_IsNotLinkedToIt()
    {
        var (_, victim) = await Host.CreateTenantAsync("Two-way victim");
        var phone = TestData.Phone();
        var id = await victim.SendAsync(new { type = "fraud.alert", customer = new { phone }, channels = new[] { "whatsapp" }, data = new { text = "Was this you?" }, actions = ConfirmBlock });
        var wamid = (await victim.WaitForStatusAsync(id, "delivered")).Attempts()[0].Str("providerMessageId");
        var (_, attacker) = await Host.CreateTenantAsync("Two-way attacker");
        var account = await AccountAsync(attacker, WhatsAppCloudConnector.ConnectorKind);
        var settings = WhatsAppSettings.Parse(account.Settings);
        var body = InboundBody(settings.PhoneNumberId, phone.TrimStart('+'), wamid, "block");

        using var response = await PostWhatsAppAsync(account.Id, body, WhatsAppSign(settings.AppSecret!, body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null((await victim.GetNotificationAsync(id))["replies"]);
    }

    private async Task<JsonObject> ReplyAsync(object body)
    {
        using var sandbox = Host.SandboxClient();
        using var response = await sandbox.PostAsJsonAsync("/sandbox/replies", body, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"POST /sandbox/replies: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private async Task<Herald.Core.Providers.ProviderAccount> AccountAsync(HttpClient client, string kind)
    {
        var id = (await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Single(p => p.Str("kind") == kind)!.Str("id");
        return Host.Services.GetRequiredService<ProviderDirectory>().Find(Guid.Parse(id))!;
    }

    private async Task<HttpResponseMessage> PostWhatsAppAsync(Guid accountId, string body, string signature)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/callbacks/{WhatsAppCloudConnector.ConnectorKind}/{accountId}")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation(WhatsAppWebhook.SignatureHeader, signature);
        using var client = Host.Client();
        return await client.SendAsync(request, Ct);
    }

    private static string WhatsAppSign(string appSecret, string body) =>
        "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(appSecret), Encoding.UTF8.GetBytes(body)));

    // Meta's "Interactive messages webhook reference" (button_reply with context.id), with this test's ids.
    private static string InboundBody(string phoneNumberId, string from, string contextId, string buttonId) => """
        {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp",
        "metadata":{"display_phone_number":"15550783881","phone_number_id":"PHONE_NUMBER_ID"},
        "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"FROM"}],
        "messages":[{"context":{"from":"15550783881","id":"CONTEXT_ID"},"from":"FROM","id":"wamid.in-MESSAGE_ID",
        "timestamp":"1750090702","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"BUTTON_ID","title":"No, block it"}}}]},
        "field":"messages"}]}]}
        """
        .Replace("PHONE_NUMBER_ID", phoneNumberId, StringComparison.Ordinal).Replace("FROM", from, StringComparison.Ordinal)
        .Replace("CONTEXT_ID", contextId, StringComparison.Ordinal).Replace("MESSAGE_ID", Guid.NewGuid().ToString("N"), StringComparison.Ordinal)
        .Replace("BUTTON_ID", buttonId, StringComparison.Ordinal);

    private static async Task<string> CreateEndpointAsync(HttpClient client, string url)
    {
        using var response = await client.PostAsJsonAsync("/v1/webhooks", new { url }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!.Str("secret");
    }

    private static async Task<(ReceivedWebhook Received, JsonObject Json)> WaitForEventAsync(WebhookReceiver receiver, string type)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            foreach (var received in receiver.Received)
            {
                var json = JsonNode.Parse(received.Body)!.AsObject();
                if (json.Str("type") == type)
                {
                    return (received, json);
                }
            }

            Assert.True(clock.Elapsed < Deadline, $"No {type} event in time.");
            await Task.Delay(50, Ct);
        }
    }
}
