using System.Text;
using System.Text.Json;
using Herald.Channels.Sms;
using Herald.Core.Delivery;
using Herald.Core.Providers;
using Microsoft.AspNetCore.WebUtilities;

namespace Herald.Channels.Tests;

public sealed class TwilioSmsConnectorTests : HttpConnectorComplianceTests<TwilioSmsConnector>
{
    // Twilio's documented 201 body for POST /2010-04-01/Accounts/{AccountSid}/Messages.json.
    private const string CreatedBody = """
        {"account_sid":"ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX","api_version":"2010-04-01","body":"Card *1234: 25.00 EUR at Coffee Bar","date_created":"Thu, 24 Aug 2023 05:01:45 +0000","date_sent":"Thu, 24 Aug 2023 05:01:45 +0000","date_updated":"Thu, 24 Aug 2023 05:01:45 +0000","direction":"outbound-api","error_code":null,"error_message":null,"from":"+15557122661","num_media":"0","num_segments":"1","price":null,"price_unit":null,"messaging_service_sid":null,"sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"queued","subresource_uris":{"media":"/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media.json"},"to":"+15558675310","uri":"/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json"}
        """;

    protected override (int Status, string Body) Success => (201, CreatedBody);

    protected override SendOutcomeKind SuccessKind => SendOutcomeKind.Accepted;

    protected override string Recipient => "+15558675310";

    protected override ProviderAccount Account(Uri baseUrl) => TestHost.TwilioAccount(baseUrl);

    private static string TwilioError(int code, string message, int status) =>
        JsonSerializer.Serialize(new { code, message, more_info = $"https://www.twilio.com/docs/errors/{code}", status });

    protected override IReadOnlyList<ProviderAnswerCase<HttpAnswer>> AnswerTable =>
    [
        new("invalid To number", new(400, TwilioError(21211, "Invalid 'To' Phone Number: +1555****", 400)), SendOutcomeKind.PermanentFailure, "21211"),
        new("unsubscribed recipient", new(400, TwilioError(21610, "Attempt to send to unsubscribed recipient", 400)), SendOutcomeKind.PermanentFailure, "21610"),
        new("bad credentials", new(401, TwilioError(20003, "Authenticate", 401)), SendOutcomeKind.TransientFailure, "20003", TimeSpan.FromSeconds(30)),
        new("internal error", new(500, TwilioError(20500, "An internal server error has occurred", 500)), SendOutcomeKind.TransientFailure, "20500"),
        new("proxy error page", new(502, "<html><body>502 Bad Gateway</body></html>"), SendOutcomeKind.TransientFailure, "502"),
    ];

    protected override (HttpAnswer Answer, TimeSpan? RetryAfter) RateLimitSignal =>
        (new(429, TwilioError(20429, "Too Many Requests", 429), ("Retry-After", "7")), TimeSpan.FromSeconds(7));

    protected override bool HasReceipts => true;

    // Status callbacks as Twilio posts them (form parameters), parsed by the Server's callback endpoint.
    protected override IReadOnlyList<ReceiptCase> ReceiptSamples =>
    [
        new(
            "delivered with carrier done date",
            () => [TwilioStatusCallback.Parse(StatusCallback("delivered", ("RawDlrDoneDate", "2506011203")), CallbackReceived)!],
            [new ProviderReceipt("SM1342fe1b2c904d1ab04f0fc7a58abca9", ReceiptState.Delivered, new DateTimeOffset(2025, 6, 1, 12, 3, 0, TimeSpan.Zero))]),
        new(
            "undelivered",
            () => [TwilioStatusCallback.Parse(StatusCallback("undelivered", ("ErrorCode", "30003")), CallbackReceived)!],
            [new ProviderReceipt("SM1342fe1b2c904d1ab04f0fc7a58abca9", ReceiptState.Failed, CallbackReceived, "30003", "Twilio reported the message undelivered (error 30003)")]),
    ];

    private static readonly DateTimeOffset CallbackReceived = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static List<KeyValuePair<string, string>> StatusCallback(string status, params (string Key, string Value)[] extra) =>
    [
        new("AccountSid", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
        new("From", "+15557122661"),
        new("To", "+15558675310"),
        new("MessageSid", "SM1342fe1b2c904d1ab04f0fc7a58abca9"),
        new("MessageStatus", status),
        .. extra.Select(static e => new KeyValuePair<string, string>(e.Key, e.Value)),
    ];

    [Theory]
    [InlineData("\"num_segments\":\"3\"", 3)]
    [InlineData("\"num_segments\":2", 2)]
    public async Task SendAsync_Created_CostsThePriceTimesTheSegmentsTwilioReported(string segments, int count)
    {
        // Twilio segments the body itself (one sid): its count is what it bills, even where Herald's own estimate
        // (1 segment for this short text) differs.
        Peer.Answer(201, CreatedBody.Replace("\"num_segments\":\"1\"", segments, StringComparison.Ordinal));
        var account = TestHost.TwilioAccount(Peer.BaseUrl) with
        {
            Prices = new PriceTable("USD", new Dictionary<string, decimal> { ["US"] = 0.0079m, ["*"] = 0.05m }),
        };

        var outcome = await Connector.SendAsync(TestHost.Message("+15558675310"), account, Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Equal(0.0079m * count, outcome.Cost);
    }

    [Fact]
    public async Task SendAsync_Created_WithoutSegmentsOrPrice_ReportsNoCost_SoTheDispatcherEstimates()
    {
        Peer.Answer(201, CreatedBody.Replace("\"num_segments\":\"1\",", "", StringComparison.Ordinal));
        var priced = TestHost.TwilioAccount(Peer.BaseUrl) with { Prices = new PriceTable("USD", new Dictionary<string, decimal> { ["*"] = 0.05m }) };

        var withoutSegments = await Connector.SendAsync(TestHost.Message("+15558675310"), priced, Ct);
        Peer.Answer(201, CreatedBody);
        var withoutPrice = await Connector.SendAsync(TestHost.Message("+15558675310"), TestHost.TwilioAccount(Peer.BaseUrl), Ct);

        Assert.Equal((SendOutcomeKind.Accepted, (decimal?)null), (withoutSegments.Kind, withoutSegments.Cost));
        Assert.Equal((SendOutcomeKind.Accepted, (decimal?)null), (withoutPrice.Kind, withoutPrice.Cost));
    }

    [Fact]
    public async Task SendAsync_Created_PostsFormWithBasicAuthAndReturnsAcceptedWithSid()
    {
        Peer.Answer(201, CreatedBody);
        var account = TestHost.TwilioAccount(Peer.BaseUrl);
        var message = TestHost.Message("+1 (555) 867-5310");

        var outcome = await Connector.SendAsync(message, account, Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Equal("SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", outcome.ProviderMessageId);
        var request = Assert.Single(Peer.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages.json", request.Path);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:your_auth_token")), request.Authorization);
        Assert.StartsWith("application/x-www-form-urlencoded", request.ContentType, StringComparison.Ordinal);
        var form = QueryHelpers.ParseQuery(Encoding.UTF8.GetString(request.Body));
        Assert.Equal("+15558675310", form["To"].ToString());
        Assert.Equal("+15557122661", form["From"].ToString());
        Assert.Equal(message.Text, form["Body"].ToString());
        Assert.Equal($"https://herald.example/callbacks/sms/{account.Id:D}", form["StatusCallback"].ToString());
        Assert.False(form.ContainsKey("MessagingServiceSid"));
    }

    [Fact]
    public async Task SendAsync_MessagingServiceWithoutCallback_SendsServiceSidInsteadOfFrom()
    {
        Peer.Answer(201, CreatedBody);
        var account = TestHost.TwilioAccount(Peer.BaseUrl) with
        {
            Settings = $$"""{"baseUrl":"{{Peer.BaseUrl}}","accountSid":"AC1","authToken":"t","messagingServiceSid":"MGXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"}""",
        };

        var outcome = await Connector.SendAsync(TestHost.Message("+15558675310"), account, Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        var form = QueryHelpers.ParseQuery(Encoding.UTF8.GetString(Assert.Single(Peer.Requests).Body));
        Assert.Equal("MGXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", form["MessagingServiceSid"].ToString());
        Assert.False(form.ContainsKey("From"));
        Assert.False(form.ContainsKey("StatusCallback"));
    }

    public static TheoryData<int, int, string, SendOutcomeKind, double?> TwilioErrors => new()
    {
        // HTTP status, Twilio code, message, expected kind, expected retry-after seconds
        { 400, 21211, "Invalid 'To' Phone Number: +1555****", SendOutcomeKind.PermanentFailure, null },
        { 400, 21614, "'To' number is not a valid mobile number", SendOutcomeKind.PermanentFailure, null },
        { 400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +4915112340000.", SendOutcomeKind.PermanentFailure, null },
        { 400, 21610, "Attempt to send to unsubscribed recipient", SendOutcomeKind.PermanentFailure, null },
        { 400, 21612, "The 'To' phone number is not currently reachable via SMS", SendOutcomeKind.PermanentFailure, null },
        { 400, 21617, "The concatenated message body exceeds the 1600 character limit.", SendOutcomeKind.PermanentFailure, null },
        { 400, 21606, "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account.", SendOutcomeKind.TransientFailure, 30 },
        { 401, 20003, "Authenticate", SendOutcomeKind.TransientFailure, 30 },
        { 404, 20404, "The requested resource /2010-04-01/Accounts/ACwrong/Messages.json was not found", SendOutcomeKind.TransientFailure, 30 },
        { 429, 20429, "Too Many Requests", SendOutcomeKind.TransientFailure, 1 },
        { 500, 20500, "An internal server error has occurred", SendOutcomeKind.TransientFailure, null },
        { 503, 20503, "Service unavailable", SendOutcomeKind.TransientFailure, null },
        { 400, 29999, "Some future client error", SendOutcomeKind.PermanentFailure, null },
        { 502, 29998, "Some future server error", SendOutcomeKind.TransientFailure, null },
    };

    [Theory]
    [MemberData(nameof(TwilioErrors))]
    public async Task SendAsync_TwilioError_MapsCodeToOutcome(int status, int code, string message, SendOutcomeKind kind, double? retryAfterSeconds)
    {
        Peer.Answer(status, TwilioError(code, message, status));

        var outcome = await Connector.SendAsync(TestHost.Message("+15558675310"), TestHost.TwilioAccount(Peer.BaseUrl), Ct);

        Assert.Equal(kind, outcome.Kind);
        Assert.Equal(code.ToString(System.Globalization.CultureInfo.InvariantCulture), outcome.ErrorCode);
        // Herald's classification and Twilio's code, never Twilio's text (issue #13).
        Assert.StartsWith($"Twilio API error {code}: ", outcome.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(message, outcome.Error, StringComparison.Ordinal);
        Assert.Equal(retryAfterSeconds is { } s ? TimeSpan.FromSeconds(s) : null, outcome.RetryAfter);
        Assert.Null(outcome.ProviderMessageId);
    }

    [Fact]
    public async Task SendAsync_429WithRetryAfterHeader_IsTransientWithThatPause()
    {
        Peer.Answer(429, TwilioError(20429, "Too Many Requests", 429), ("Retry-After", "7"));

        var outcome = await Connector.SendAsync(TestHost.Message("+15558675310"), TestHost.TwilioAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("20429", outcome.ErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(7), outcome.RetryAfter);
    }

    [Fact]
    public async Task SendAsync_BadGatewayWithHtmlBody_IsTransientByHttpStatus()
    {
        Peer.AnswerHtml(502, "<html><body>502 Bad Gateway</body></html>");

        var outcome = await Connector.SendAsync(TestHost.Message("+15558675310"), TestHost.TwilioAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("502", outcome.ErrorCode);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("""{"status":"queued"}""")]
    [InlineData("""{"sid":""}""")]
    [InlineData("[]")]
    public async Task SendAsync_CreatedWithMalformedBody_IsTransientMalformedResponse(string body)
    {
        Peer.Answer(201, body);

        var outcome = await Connector.SendAsync(TestHost.Message("+15558675310"), TestHost.TwilioAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("malformed_response", outcome.ErrorCode);
    }

    // 3 GSM-7 segments (405 septets; 153 per segment).
    private static readonly string ThreeSegments = string.Concat(Enumerable.Repeat("Statement line 0123456789. ", 15));

    [Fact]
    public async Task SendAsync_LongText_TakesAPermitPerSegmentAfterTheFirst_BeforeItsOneRequest()
    {
        Peer.Answer(201, CreatedBody);
        var asked = 0;
        var message = TestHost.Message("+15558675310", ThreeSegments) with { NextPartPermit = _ => { asked++; return ValueTask.FromResult<TimeSpan?>(null); } };

        var outcome = await Connector.SendAsync(message, TestHost.TwilioAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Equal(2, asked);
        Assert.Single(Peer.Requests);
    }

    [Fact]
    public async Task SendAsync_LongText_SegmentHeldBack_IsRateLimitedWithoutRequest()
    {
        var asked = 0;
        var message = TestHost.Message("+15558675310", ThreeSegments) with
        {
            NextPartPermit = _ => ValueTask.FromResult<TimeSpan?>(++asked == 2 ? TimeSpan.FromMilliseconds(40) : null),
        };

        var outcome = await Connector.SendAsync(message, TestHost.TwilioAccount(Peer.BaseUrl), Ct);

        // Nothing reached Twilio, so the dispatcher may try the next account or come back after the pause.
        Assert.True(outcome.IsRateLimited);
        Assert.Equal(TimeSpan.FromMilliseconds(40), outcome.RetryAfter);
        Assert.Empty(Peer.Requests);
    }

    [Fact]
    public async Task SendAsync_AddressWithoutDigits_IsPermanentWithoutRequest()
    {
        var outcome = await Connector.SendAsync(TestHost.Message("not a phone"), TestHost.TwilioAccount(Peer.BaseUrl), Ct);

        Assert.Equal(SendOutcomeKind.PermanentFailure, outcome.Kind);
        Assert.Equal("invalid_address", outcome.ErrorCode);
        Assert.Empty(Peer.Requests);
    }

    [Theory]
    [InlineData("""{"accountSid":"AC1","authToken":"t"}""")]
    [InlineData("""{"accountSid":"AC1","from":"+15557122661"}""")]
    [InlineData("""{"accountSid":"AC1","authToken":"t","from":"+1","baseUrl":"not a url"}""")]
    [InlineData("""{"accountSid":"AC1","authToken":"t","from":"+1","statusCallbackUrl":"/relative"}""")]
    [InlineData("not json")]
    public async Task SendAsync_UnusableSettings_IsTransientInvalidSettingsWithoutRequest(string settings)
    {
        var account = TestHost.TwilioAccount(Peer.BaseUrl) with { Settings = settings };

        var outcome = await Connector.SendAsync(TestHost.Message("+15558675310"), account, Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("invalid_settings", outcome.ErrorCode);
        Assert.Empty(Peer.Requests);
    }
}
