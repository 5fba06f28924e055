using System.Text.Json;
using Herald.Channels.Telegram;
using Herald.Core.Delivery;
using Herald.Core.Providers;

namespace Herald.Channels.Tests;

public sealed class TelegramBotConnectorTests : HttpConnectorComplianceTests<TelegramBotConnector>
{
    private const string Token = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";

    // The Bot API's documented answer to sendMessage: ok + the sent Message.
    private const string OkBody = """
        {"ok":true,"result":{"message_id":4711,"from":{"id":123456,"is_bot":true,"first_name":"Herald Bank","username":"herald_bank_bot"},"chat":{"id":987654321,"first_name":"Ana","type":"private"},"date":1718000000,"text":"Card *1234: 25.00 EUR at Coffee Bar"}}
        """;

    protected override (int Status, string Body) Success => (200, OkBody);

    protected override SendOutcomeKind SuccessKind => SendOutcomeKind.Delivered;

    protected override string Recipient => "987654321";

    protected override ProviderAccount Account(Uri baseUrl) => TestHost.TelegramAccount(baseUrl);

    protected override IReadOnlyList<ProviderAnswerCase<HttpAnswer>> AnswerTable =>
    [
        new("bot blocked", new(403, """{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"""), SendOutcomeKind.PermanentFailure, "403"),
        new("chat not found", new(400, """{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"""), SendOutcomeKind.PermanentFailure, "400"),
        new("bad token", new(401, """{"ok":false,"error_code":401,"description":"Unauthorized"}"""), SendOutcomeKind.TransientFailure, "401", TimeSpan.FromSeconds(30)),
        new("server error", new(500, """{"ok":false,"error_code":500,"description":"Internal Server Error"}"""), SendOutcomeKind.TransientFailure, "500"),
        new("proxy error page", new(502, "<html><body>502 Bad Gateway</body></html>"), SendOutcomeKind.TransientFailure, "502"),
    ];

    // Flood control carries its pause in parameters.retry_after, not in a header.
    protected override (HttpAnswer Answer, TimeSpan? RetryAfter) RateLimitSignal =>
        (new(429, """{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 15","parameters":{"retry_after":15}}"""), TimeSpan.FromSeconds(15));

    // The Bot API has no delivery receipts: ok:true means the message is in the chat.
    protected override bool HasReceipts => false;

    [Fact]
    public async Task SendAsync_Ok_PostsSendMessageAndReturnsDeliveredWithChatAndMessageId()
    {
        Peer.Answer(200, OkBody);
        var message = TestHost.Message("987654321");

        var outcome = await Connector.SendAsync(message, TestHost.TelegramAccount(Peer.BaseUrl, Token), Ct);

        Assert.Equal(SendOutcomeKind.Delivered, outcome.Kind);
        Assert.Equal("987654321:4711", outcome.ProviderMessageId);
        var request = Assert.Single(Peer.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal($"/bot{Token}/sendMessage", request.Path);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal(987654321, body.RootElement.GetProperty("chat_id").GetInt64());
        Assert.Equal(message.Text, body.RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public async Task SendAsync_TooManyRequests_IsTransientWithRetryAfterFromParameters()
    {
        Peer.Answer(429, """{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 15","parameters":{"retry_after":15}}""");

        var outcome = await Connector.SendAsync(TestHost.Message("987654321"), TestHost.TelegramAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("429", outcome.ErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(15), outcome.RetryAfter);
        // Herald's words and the code, never the far end's text (issue #13: the answer of whatever the URL points at).
        Assert.Equal("Telegram Bot API error 429: the provider is throttling", outcome.Error);
    }

    [Theory]
    [InlineData(403, "Forbidden: bot was blocked by the user")]
    [InlineData(403, "Forbidden: user is deactivated")]
    [InlineData(403, "Forbidden: bot was kicked from the group chat")]
    [InlineData(403, "Forbidden: bot can't initiate conversation with a user")]
    [InlineData(400, "Bad Request: chat not found")]
    [InlineData(400, "Bad Request: message text is empty")]
    public async Task SendAsync_ForbiddenOrBadRequest_IsPermanentWithHeraldsTextNotTheDescription(int code, string description)
    {
        Peer.Answer(code, $$"""{"ok":false,"error_code":{{code}},"description":"{{description}}"}""");

        var outcome = await Connector.SendAsync(TestHost.Message("987654403"), TestHost.TelegramAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.PermanentFailure, outcome.Kind);
        Assert.Equal(code.ToString(System.Globalization.CultureInfo.InvariantCulture), outcome.ErrorCode);
        Assert.DoesNotContain(description, outcome.Error, StringComparison.Ordinal);
        Assert.Equal($"Telegram Bot API error {code}: the provider will not deliver this message to this recipient", outcome.Error);
    }

    [Theory]
    [InlineData(401, """{"ok":false,"error_code":401,"description":"Unauthorized"}""")]
    [InlineData(404, """{"ok":false,"error_code":404,"description":"Not Found"}""")]
    [InlineData(500, """{"ok":false,"error_code":500,"description":"Internal Server Error"}""")]
    [InlineData(502, "<html><body>502 Bad Gateway</body></html>")]
    public async Task SendAsync_BadTokenOrServerError_IsTransient(int status, string body)
    {
        Peer.Answer(status, body);

        var outcome = await Connector.SendAsync(TestHost.Message("987654321"), TestHost.TelegramAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal(status.ToString(System.Globalization.CultureInfo.InvariantCulture), outcome.ErrorCode);
    }

    [Theory]
    [InlineData("""{"ok":true}""")]
    [InlineData("""{"result":{"message_id":1}}""")]
    [InlineData("<html>")]
    public async Task SendAsync_SuccessStatusWithMalformedBody_IsTransientMalformedResponse(string body)
    {
        Peer.Answer(200, body);

        var outcome = await Connector.SendAsync(TestHost.Message("987654321"), TestHost.TelegramAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("malformed_response", outcome.ErrorCode);
    }

    [Fact]
    public async Task SendAsync_ConnectionRefused_IsTransientNetworkWithoutToken()
    {
        var outcome = await Connector.SendAsync(TestHost.Message("987654321"), TestHost.TelegramAccount(ProviderPeer.ClosedPortUrl(), Token), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("network", outcome.ErrorCode);
        Assert.DoesNotContain(Token, outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void VerifySecret_MatchingHeader_IsTrue() =>
        Assert.True(TelegramWebhook.VerifySecret("whsec_AbC123", "whsec_AbC123"));

    [Theory]
    [InlineData(null, "whsec_AbC123")]
    [InlineData("", "whsec_AbC123")]
    [InlineData("whsec_AbC124", "whsec_AbC123")]
    [InlineData("whsec_AbC12", "whsec_AbC123")]
    [InlineData("", "")]
    [InlineData("anything", "")]
    public void VerifySecret_MissingWrongOrUnconfigured_IsFalse(string? header, string expected) =>
        Assert.False(TelegramWebhook.VerifySecret(header, expected));
}
