using System.Text.Json;
using Herald.Channels.WhatsApp;
using Herald.Core.Delivery;
using Herald.Core.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Channels.Tests;

public sealed class WhatsAppCloudConnectorTests : HttpConnectorComplianceTests<WhatsAppCloudConnector>
{
    // Meta's documented success body for POST /{phone-number-id}/messages.
    private const string AcceptedBody = """
        {"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA","message_status":"accepted"}]}
        """;

    protected override (int Status, string Body) Success => (200, AcceptedBody);

    protected override SendOutcomeKind SuccessKind => SendOutcomeKind.Accepted;

    protected override string Recipient => "+16505551234";

    protected override ProviderAccount Account(Uri baseUrl) => TestHost.WhatsAppAccount(baseUrl);

    private static string GraphError(int code, string message, string details = "") =>
        "{\"error\":{\"message\":" + JsonSerializer.Serialize(message) + ",\"type\":\"OAuthException\",\"code\":" + code
        + (details.Length > 0 ? ",\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":" + JsonSerializer.Serialize(details) + "}" : "")
        + ",\"fbtrace_id\":\"AbCdEf123\"}}";

    protected override IReadOnlyList<ProviderAnswerCase<HttpAnswer>> AnswerTable =>
    [
        new("not a WhatsApp user", new(400, GraphError(131026, "(#131026) Message Undeliverable", "Unable to deliver message.")), SendOutcomeKind.PermanentFailure, "131026"),
        new("outside the 24 h window", new(400, GraphError(131047, "(#131047) Re-engagement message")), SendOutcomeKind.PermanentFailure, "131047"),
        new("something went wrong", new(500, GraphError(131000, "(#131000) Something went wrong")), SendOutcomeKind.TransientFailure, "131000"),
        new("access token expired", new(401, GraphError(190, "Error validating access token")), SendOutcomeKind.TransientFailure, "190", TimeSpan.FromSeconds(30)),
        new("proxy error page", new(502, "<html><body>502 Bad Gateway</body></html>"), SendOutcomeKind.TransientFailure, "502"),
    ];

    protected override (HttpAnswer Answer, TimeSpan? RetryAfter) RateLimitSignal =>
        (new(429, GraphError(130429, "(#130429) Rate limit hit"), ("Retry-After", "7")), TimeSpan.FromSeconds(7));

    protected override bool HasReceipts => true;

    // Meta's "messages" webhook reference: a sent and a failed status.
    protected override IReadOnlyList<ReceiptCase> ReceiptSamples =>
    [
        new(
            "sent",
            () => [.. WhatsAppWebhook.Parse(System.Text.Encoding.UTF8.GetBytes("""
                {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA","status":"delivered","timestamp":"1750857384","recipient_id":"16505551234"}]},"field":"messages"}]}]}
                """)).Receipts.Select(static r => r.Receipt)],
            [new ProviderReceipt("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA", ReceiptState.Delivered, DateTimeOffset.FromUnixTimeSeconds(1750857384))]),
        new(
            "failed",
            () => [.. WhatsAppWebhook.Parse(System.Text.Encoding.UTF8.GetBytes("""
                {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.F","status":"failed","timestamp":"1691548112","recipient_id":"16505551234","errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"More than 24 hours have passed."}}]}]},"field":"messages"}]}]}
                """)).Receipts.Select(static r => r.Receipt)],
            [new ProviderReceipt("wamid.F", ReceiptState.Failed, DateTimeOffset.FromUnixTimeSeconds(1691548112), "131047", "WhatsApp reported the message failed (error 131047)")]),
    ];

    [Fact]
    public async Task SendAsync_TextMessage_PostsGraphRequestAndReturnsAcceptedWithWamid()
    {
        Peer.Answer(200, AcceptedBody);
        var account = TestHost.WhatsAppAccount(Peer.BaseUrl);
        var message = TestHost.Message("+1 650-555-1234");

        var outcome = await Connector.SendAsync(message, account, Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Equal("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA", outcome.ProviderMessageId);
        var request = Assert.Single(Peer.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v21.0/106540352242922/messages", request.Path);
        Assert.Equal("Bearer EAAJB-test-token", request.Authorization);
        Assert.StartsWith("application/json", request.ContentType, StringComparison.Ordinal);
        using var body = JsonDocument.Parse(request.Body);
        var root = body.RootElement;
        Assert.Equal("whatsapp", root.GetProperty("messaging_product").GetString());
        Assert.Equal("individual", root.GetProperty("recipient_type").GetString());
        Assert.Equal("16505551234", root.GetProperty("to").GetString());
        Assert.Equal("text", root.GetProperty("type").GetString());
        Assert.Equal(message.Text, root.GetProperty("text").GetProperty("body").GetString());
        Assert.Equal(message.AttemptId.ToString("N"), root.GetProperty("biz_opaque_callback_data").GetString());
    }

    [Fact]
    public async Task SendAsync_TemplateMessage_SendsTemplateWithBodyTextParameters()
    {
        Peer.Answer(200, AcceptedBody);
        var template = new Herald.Channels.WhatsAppTemplate("card_transaction", "en_US", ["1234", "25.00 EUR"]);

        var outcome = await Connector.SendAsync(TestHost.Message("+16505551234", template: template), TestHost.WhatsAppAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        using var body = JsonDocument.Parse(Assert.Single(Peer.Requests).Body);
        var root = body.RootElement;
        Assert.Equal("template", root.GetProperty("type").GetString());
        Assert.False(root.TryGetProperty("text", out _));
        var t = root.GetProperty("template");
        Assert.Equal("card_transaction", t.GetProperty("name").GetString());
        Assert.Equal("en_US", t.GetProperty("language").GetProperty("code").GetString());
        var component = Assert.Single(t.GetProperty("components").EnumerateArray());
        Assert.Equal("body", component.GetProperty("type").GetString());
        var parameters = component.GetProperty("parameters").EnumerateArray().ToArray();
        Assert.Equal(["text", "text"], parameters.Select(p => p.GetProperty("type").GetString()));
        Assert.Equal(["1234", "25.00 EUR"], parameters.Select(p => p.GetProperty("text").GetString()));
    }

    public static TheoryData<int, int, string, string, SendOutcomeKind, double?> GraphErrors => new()
    {
        // HTTP status, code, message (title), details, expected kind, expected retry-after seconds
        { 400, 131047, "(#131047) Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number.", SendOutcomeKind.PermanentFailure, null },
        { 400, 131026, "(#131026) Message Undeliverable", "Unable to deliver message. Reasons can include: The recipient phone number is not a WhatsApp phone number.", SendOutcomeKind.PermanentFailure, null },
        { 400, 133010, "(#133010) Account not registered", "Account not registered", SendOutcomeKind.PermanentFailure, null },
        { 400, 100, "(#100) Invalid parameter", "Parameter 'to' is invalid", SendOutcomeKind.PermanentFailure, null },
        { 400, 131051, "(#131051) Unsupported message type", "Message type is not currently supported.", SendOutcomeKind.PermanentFailure, null },
        { 400, 132001, "(#132001) Template name does not exist in the translation", "template name (card_tx) does not exist in en_US", SendOutcomeKind.PermanentFailure, null },
        { 403, 368, "(#368) Temporarily blocked for policies violations", "The WhatsApp Business Account has been restricted.", SendOutcomeKind.PermanentFailure, null },
        { 400, 131031, "(#131031) Business Account locked", "Account has been locked", SendOutcomeKind.PermanentFailure, null },
        { 400, 130429, "(#130429) Rate limit hit", "Message failed to send because there were too many messages sent from this phone number in a short period of time", SendOutcomeKind.TransientFailure, 1 },
        { 400, 131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit", "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.", SendOutcomeKind.TransientFailure, 6 },
        { 400, 131048, "(#131048) Spam rate limit hit", "Message failed to send because there are restrictions on how many messages can be sent from this phone number.", SendOutcomeKind.TransientFailure, 60 },
        { 400, 80007, "(#80007) Rate limit issues", "The WhatsApp Business Account has reached its rate limit.", SendOutcomeKind.TransientFailure, 60 },
        { 400, 4, "(#4) Application request limit reached", "", SendOutcomeKind.TransientFailure, 60 },
        { 401, 190, "Error validating access token: Session has expired on Friday, 12-Jul-24 10:00:00 PDT.", "", SendOutcomeKind.TransientFailure, 30 },
        { 500, 131000, "(#131000) Something went wrong", "Something went wrong", SendOutcomeKind.TransientFailure, null },
        { 503, 131016, "(#131016) Service unavailable", "A service is temporarily unavailable.", SendOutcomeKind.TransientFailure, null },
        { 500, 2, "(#2) Service temporarily unavailable", "", SendOutcomeKind.TransientFailure, null },
        { 500, 1, "(#1) An unknown error occurred", "", SendOutcomeKind.TransientFailure, null },
        { 400, 999999, "(#999999) Some future client error", "", SendOutcomeKind.PermanentFailure, null },
        { 502, 999998, "(#999998) Some future server error", "", SendOutcomeKind.TransientFailure, null },
    };

    [Theory]
    [MemberData(nameof(GraphErrors))]
    public async Task SendAsync_GraphError_MapsCodeToOutcome(int status, int code, string title, string details, SendOutcomeKind kind, double? retryAfterSeconds)
    {
        var errorData = details.Length > 0
            ? ",\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":" + JsonSerializer.Serialize(details) + "}"
            : "";
        Peer.Answer(status, "{\"error\":{\"message\":" + JsonSerializer.Serialize(title) + ",\"type\":\"OAuthException\",\"code\":" + code + errorData + ",\"fbtrace_id\":\"AbCdEf123\"}}");

        var outcome = await Connector.SendAsync(TestHost.Message("+16505551234"), TestHost.WhatsAppAccount(Peer.BaseUrl), Ct);

        Assert.Equal(kind, outcome.Kind);
        Assert.Equal(code.ToString(System.Globalization.CultureInfo.InvariantCulture), outcome.ErrorCode);
        // Herald's classification and Meta's code, never Graph's text (issue #13).
        Assert.StartsWith($"WhatsApp Cloud API error {code}: ", outcome.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(title, outcome.Error, StringComparison.Ordinal);
        if (details.Length > 0)
        {
            Assert.DoesNotContain(details, outcome.Error, StringComparison.Ordinal);
        }
        Assert.Equal(retryAfterSeconds is { } s ? TimeSpan.FromSeconds(s) : null, outcome.RetryAfter);
        Assert.Null(outcome.ProviderMessageId);
    }

    [Fact]
    public async Task SendAsync_Http429WithRetryAfterHeader_IsTransientWithThatPause()
    {
        Peer.Answer(429, """{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"fbtrace_id":"x"}}""", ("Retry-After", "7"));

        var outcome = await Connector.SendAsync(TestHost.Message("+16505551234"), TestHost.WhatsAppAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal(TimeSpan.FromSeconds(7), outcome.RetryAfter);
    }

    [Fact]
    public async Task SendAsync_BadGatewayWithHtmlBody_IsTransient()
    {
        Peer.AnswerHtml(502, "<html><body>502 Bad Gateway</body></html>");

        var outcome = await Connector.SendAsync(TestHost.Message("+16505551234"), TestHost.WhatsAppAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("502", outcome.ErrorCode);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("""{"messaging_product":"whatsapp","messages":[]}""")]
    [InlineData("""{"messaging_product":"whatsapp"}""")]
    [InlineData("[]")]
    public async Task SendAsync_SuccessStatusWithMalformedBody_IsTransientMalformedResponse(string body)
    {
        Peer.Answer(200, body);

        var outcome = await Connector.SendAsync(TestHost.Message("+16505551234"), TestHost.WhatsAppAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("malformed_response", outcome.ErrorCode);
    }

    [Theory]
    [InlineData("""{"baseUrl":"https://graph.facebook.com","accessToken":"t"}""")]
    [InlineData("""{"phoneNumberId":"1","accessToken":"t","baseUrl":"not a url"}""")]
    [InlineData("not json")]
    public async Task SendAsync_UnusableSettings_IsTransientInvalidSettingsWithoutRequest(string settings)
    {
        var account = TestHost.WhatsAppAccount(Peer.BaseUrl) with { Settings = settings };

        var outcome = await Connector.SendAsync(TestHost.Message("+16505551234"), account, Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("invalid_settings", outcome.ErrorCode);
        Assert.Empty(Peer.Requests);
    }

    [Fact]
    public async Task SendAsync_SettingsOfAccountChanged_UsesNewSettings()
    {
        Peer.Answer(200, AcceptedBody);
        var account = TestHost.WhatsAppAccount(Peer.BaseUrl, phoneNumberId: "111");
        await Connector.SendAsync(TestHost.Message("+16505551234"), account, Ct);

        var changed = account with { Settings = account.Settings.Replace("\"111\"", "\"222\"", StringComparison.Ordinal) };
        await Connector.SendAsync(TestHost.Message("+16505551234"), changed, Ct);

        Assert.Equal(["/v21.0/111/messages", "/v21.0/222/messages"], Peer.Requests.Select(r => r.Path));
    }
}
