using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Channels.Push;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Channels.Tests.Push;

/// <summary>
/// The FCM HTTP v1 connector against two real HTTP peers: <see cref="HttpConnectorComplianceTests{T}.Peer"/> plays
/// FCM (<c>/v1/projects/{p}/messages:send</c>), <see cref="TokenPeer"/> plays Google's OAuth2 token endpoint.
/// </summary>
public sealed class FcmConnectorTests : HttpConnectorComplianceTests<FcmConnector>
{
    private const string ProjectId = "herald-test";
    private const string ClientEmail = "herald@herald-test.iam.gserviceaccount.com";
    private const string SentName = "projects/herald-test/messages/0:1500415314455276%31bd1c9631bd1c96";
    private const string PushToken = "bk3RNwTe3H0:CI2k_HHwgIpoDKCIZvvDMExUdFQ3P1";

    private static readonly RSA Key = RSA.Create(2048);
    private static readonly string KeyPem = Key.ExportPkcs8PrivateKeyPem();

    private int _tokensIssued;

    /// <summary>Google's token endpoint stand-in: answers a new access token (ya29.test-N) per exchange.</summary>
    private ProviderPeer TokenPeer { get; } = new();

    protected override (int Status, string Body) Success => (200, $$"""{"name":"{{SentName}}"}""");

    protected override SendOutcomeKind SuccessKind => SendOutcomeKind.Accepted;

    protected override string Recipient => PushToken;

    protected override ProviderAccount Account(Uri baseUrl) => FcmAccount(baseUrl, new Uri(TokenPeer.BaseUrl, "token"));

    protected override bool HasReceipts => false;

    protected override async ValueTask StartPeerAsync()
    {
        await base.StartPeerAsync();
        await TokenPeer.InitializeAsync();
        TokenAnswers(3599);
    }

    protected override async ValueTask StopPeerAsync()
    {
        await base.StopPeerAsync();
        await TokenPeer.DisposeAsync();
    }

    private static string Status(int code, string status, string message, string? fcmErrorCode) =>
        JsonSerializer.Serialize(new
        {
            error = new
            {
                code,
                message,
                status,
                details = fcmErrorCode is null
                    ? Array.Empty<object>()
                    : [new Dictionary<string, string> { ["@type"] = "type.googleapis.com/google.firebase.fcm.v1.FcmError", ["errorCode"] = fcmErrorCode }],
            },
        });

    // FCM v1 ErrorCode reference: each code with its documented HTTP status.
    protected override IReadOnlyList<ProviderAnswerCase<HttpAnswer>> AnswerTable =>
    [
        new("token unregistered", new(404, Status(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")), SendOutcomeKind.PermanentFailure, "UNREGISTERED"),
        new("token invalid", new(400, Status(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", "INVALID_ARGUMENT")), SendOutcomeKind.PermanentFailure, "INVALID_ARGUMENT"),
        new("invalid data value (BadRequest detail only)", new(400, """{"error":{"code":400,"message":"Invalid value at 'message.data[0].value' (TYPE_STRING), 12","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data[0].value","description":"Invalid value at 'message.data[0].value' (TYPE_STRING), 12"}]}]}}"""), SendOutcomeKind.PermanentFailure, "INVALID_ARGUMENT"),
        new("token of another sender", new(403, Status(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")), SendOutcomeKind.PermanentFailure, "SENDER_ID_MISMATCH"),
        new("bare 404", new(404, "Not Found"), SendOutcomeKind.PermanentFailure, "404"),
        new("unavailable", new(503, Status(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")), SendOutcomeKind.TransientFailure, "UNAVAILABLE"),
        new("unavailable with Retry-After", new(503, Status(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"), ("Retry-After", "10")), SendOutcomeKind.TransientFailure, "UNAVAILABLE", TimeSpan.FromSeconds(10)),
        new("internal", new(500, Status(500, "INTERNAL", "Internal error encountered.", "INTERNAL")), SendOutcomeKind.TransientFailure, "INTERNAL"),
        new("quota without Retry-After", new(429, Status(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED")), SendOutcomeKind.TransientFailure, "QUOTA_EXCEEDED", TimeSpan.FromSeconds(60)),
        new("APNs credentials invalid", new(401, Status(401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service", "THIRD_PARTY_AUTH_ERROR")), SendOutcomeKind.TransientFailure, "THIRD_PARTY_AUTH_ERROR", TimeSpan.FromSeconds(30)),
        new("service account lacks permission", new(403, Status(403, "PERMISSION_DENIED", "Permission 'cloudmessaging.messages.create' denied on resource", null)), SendOutcomeKind.TransientFailure, "auth", TimeSpan.FromSeconds(30)),
        new("proxy error page", new(502, "<html><body>502 Bad Gateway</body></html>"), SendOutcomeKind.TransientFailure, "502"),
    ];

    protected override (HttpAnswer Answer, TimeSpan? RetryAfter) RateLimitSignal =>
        (new(429, Status(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED"), ("Retry-After", "7")), TimeSpan.FromSeconds(7));

    private ProviderAccount FcmAccount(Uri baseUrl, Uri tokenUri, string? privateKey = null, string title = "Example Bank") =>
        new(Guid.NewGuid(), Guid.NewGuid(), Channel.Push, FcmConnector.ConnectorKind, "fcm",
            JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["type"] = "service_account",
                ["project_id"] = ProjectId,
                ["private_key_id"] = "a1b2c3d4e5",
                ["private_key"] = privateKey ?? KeyPem,
                ["client_email"] = ClientEmail,
                ["token_uri"] = tokenUri.ToString(),
                ["baseUrl"] = baseUrl.ToString(),
                ["title"] = title,
            }),
            1, true, DateTimeOffset.UnixEpoch);

    private void TokenAnswers(int expiresIn) =>
        TokenPeer.Handler = async ctx =>
        {
            var n = Interlocked.Increment(ref _tokensIssued);
            ctx.Response.ContentType = "application/json; charset=utf-8";
            await ctx.Response.WriteAsync($$"""{"access_token":"ya29.test-{{n}}","expires_in":{{expiresIn}},"token_type":"Bearer"}""", ctx.RequestAborted);
        };

    /// <summary>The connector with a clock the test moves.</summary>
    private static ServiceProvider ServicesWithClock(FakeTimeProvider clock)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Herald:Channels:HttpTimeout"] = "00:00:30",
            ["Herald:Channels:SendTimeout"] = "00:00:30",
            [TestHost.EgressAllowSetting] = TestHost.EgressAllowLoopback,
        }).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<TimeProvider>(clock);
        services.AddSingleton<IProviderAccountSource>(new InMemoryProviderStore());
        services.AddHeraldChannels(config);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task SendAsync_ReplyActions_GoAsDataWithTheReplyCategoryForAndroidAndIos()
    {
        Peer.Answer(Success.Status, Success.Body);
        Herald.Core.Notifications.NotificationAction[] actions = [new("confirm", "Yes, it was me"), new("block", "No, block my card")];
        var message = TestHost.Message(PushToken, "Was this you?") with { Actions = actions };

        await Connector.SendAsync(message, PeerAccount(), Ct);

        using var body = JsonDocument.Parse(Assert.Single(Peer.Requests).Body);
        var m = body.RootElement.GetProperty("message");
        Assert.Equal(actions, JsonSerializer.Deserialize<Herald.Core.Notifications.NotificationAction[]>(m.GetProperty("data").GetProperty("heraldActions").GetString()!));
        Assert.Equal(FcmConnector.ReplyCategory, m.GetProperty("android").GetProperty("notification").GetProperty("click_action").GetString());
        Assert.Equal(FcmConnector.ReplyCategory, m.GetProperty("apns").GetProperty("payload").GetProperty("aps").GetProperty("category").GetString());
    }

    [Fact]
    public async Task SendAsync_NoReplyActions_CarriesNoReplyFields()
    {
        Peer.Answer(Success.Status, Success.Body);

        await Connector.SendAsync(TestHost.Message(PushToken, "Balance: 10 EUR"), PeerAccount(), Ct);

        using var body = JsonDocument.Parse(Assert.Single(Peer.Requests).Body);
        var m = body.RootElement.GetProperty("message");
        Assert.False(m.GetProperty("data").TryGetProperty("heraldActions", out _));
        Assert.False(m.TryGetProperty("android", out _));
        Assert.False(m.TryGetProperty("apns", out _));
    }

    [Fact]
    public async Task SendAsync_Accepted_PostsV1MessageWithTheExchangedBearerToken()
    {
        Peer.Answer(Success.Status, Success.Body);
        var message = TestHost.Message(PushToken, "Card *1234: 25.00 EUR at Coffee Bar");

        var outcome = await Connector.SendAsync(message, PeerAccount(), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Equal(SentName, outcome.ProviderMessageId);
        var request = Assert.Single(Peer.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal($"/v1/projects/{ProjectId}/messages:send", request.Path);
        Assert.Equal("Bearer ya29.test-1", request.Authorization);
        Assert.StartsWith("application/json", request.ContentType, StringComparison.Ordinal);
        using var body = JsonDocument.Parse(request.Body);
        var m = body.RootElement.GetProperty("message");
        Assert.Equal(PushToken, m.GetProperty("token").GetString());
        Assert.Equal("Example Bank", m.GetProperty("notification").GetProperty("title").GetString());
        Assert.Equal(message.Text, m.GetProperty("notification").GetProperty("body").GetString());
        Assert.Equal(message.NotificationId.ToString("D"), m.GetProperty("data").GetProperty("heraldNotificationId").GetString());
        Assert.Equal(message.AttemptId.ToString("D"), m.GetProperty("data").GetProperty("heraldAttemptId").GetString());
    }

    [Fact]
    public async Task SendAsync_TokenExchange_IsAJwtBearerGrantSignedRs256WithTheServiceAccountKey()
    {
        Peer.Answer(Success.Status, Success.Body);

        await Connector.SendAsync(TestHost.Message(PushToken), PeerAccount(), Ct);

        var exchange = Assert.Single(TokenPeer.Requests);
        Assert.Equal("POST", exchange.Method);
        Assert.Equal("/token", exchange.Path);
        Assert.StartsWith("application/x-www-form-urlencoded", exchange.ContentType, StringComparison.Ordinal);
        var form = QueryHelpers.ParseQuery(Encoding.UTF8.GetString(exchange.Body));
        Assert.Equal("urn:ietf:params:oauth:grant-type:jwt-bearer", form["grant_type"].ToString());
        var parts = form["assertion"].ToString().Split('.');
        Assert.Equal(3, parts.Length);
        Assert.True(Key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        Assert.Equal("RS256", header.RootElement.GetProperty("alg").GetString());
        Assert.Equal("a1b2c3d4e5", header.RootElement.GetProperty("kid").GetString());
        using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        var c = claims.RootElement;
        Assert.Equal(ClientEmail, c.GetProperty("iss").GetString());
        Assert.Equal(new Uri(TokenPeer.BaseUrl, "token").AbsoluteUri, c.GetProperty("aud").GetString());
        Assert.Equal("https://www.googleapis.com/auth/firebase.messaging", c.GetProperty("scope").GetString());
        Assert.Equal(3600, c.GetProperty("exp").GetInt64() - c.GetProperty("iat").GetInt64());
    }

    [Fact]
    public async Task SendAsync_ManySends_ExchangeTheTokenOnce()
    {
        Peer.Answer(Success.Status, Success.Body);
        var account = PeerAccount();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Connector.SendAsync(TestHost.Message(PushToken), account, Ct)));

        Assert.All(outcomes, o => Assert.Equal(SendOutcomeKind.Accepted, o.Kind));
        Assert.Single(TokenPeer.Requests);
        Assert.All(Peer.Requests, r => Assert.Equal("Bearer ya29.test-1", r.Authorization));
    }

    [Fact]
    public async Task SendAsync_TokenCloseToExpiry_IsRefreshedBeforeUse()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero));
        await using var services = ServicesWithClock(clock);
        var connector = services.GetRequiredService<FcmConnector>();
        Peer.Answer(Success.Status, Success.Body);
        var account = PeerAccount();

        await connector.SendAsync(TestHost.Message(PushToken), account, Ct);
        clock.Advance(TimeSpan.FromSeconds(3599) - FcmConnector.TokenRefreshBefore - TimeSpan.FromSeconds(1));
        await connector.SendAsync(TestHost.Message(PushToken), account, Ct);
        Assert.Single(TokenPeer.Requests);
        clock.Advance(TimeSpan.FromSeconds(2));
        await connector.SendAsync(TestHost.Message(PushToken), account, Ct);

        Assert.Equal(2, TokenPeer.Requests.Count);
        Assert.Equal(["Bearer ya29.test-1", "Bearer ya29.test-1", "Bearer ya29.test-2"], Peer.Requests.Select(r => r.Authorization));
    }

    [Fact]
    public async Task SendAsync_Unauthorized_RefreshesTheTokenOnceAndSendsAgain()
    {
        var sends = 0;
        Peer.Handler = async ctx =>
        {
            var first = Interlocked.Increment(ref sends) == 1;
            ctx.Response.StatusCode = first ? 401 : 200;
            ctx.Response.ContentType = "application/json; charset=UTF-8";
            await ctx.Response.WriteAsync(first ? Status(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", null) : Success.Body, ctx.RequestAborted);
        };

        var outcome = await Connector.SendAsync(TestHost.Message(PushToken), PeerAccount(), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Equal(2, TokenPeer.Requests.Count);
        Assert.Equal(["Bearer ya29.test-1", "Bearer ya29.test-2"], Peer.Requests.Select(r => r.Authorization));
    }

    [Fact]
    public async Task SendAsync_UnauthorizedAfterRefresh_IsTransientAuthWithoutMoreTries()
    {
        Peer.Answer(401, Status(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", null));

        var outcome = await Connector.SendAsync(TestHost.Message(PushToken), PeerAccount(), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("auth", outcome.ErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(30), outcome.RetryAfter);
        Assert.Equal(2, Peer.Requests.Count);
        Assert.Equal(2, TokenPeer.Requests.Count);
    }

    [Fact]
    public async Task SendAsync_TokenEndpointRefusesTheGrant_IsTransientAuthAndNothingIsSent()
    {
        TokenPeer.Answer(400, """{"error":"invalid_grant","error_description":"Invalid JWT Signature."}""");

        var outcome = await Connector.SendAsync(TestHost.Message(PushToken), PeerAccount(), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("auth", outcome.ErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(30), outcome.RetryAfter);
        // The OAuth error code, not the endpoint's description (issue #13).
        Assert.Equal("FCM token endpoint: HTTP 400 invalid_grant: the service account's token was refused", outcome.Error);
        Assert.Empty(Peer.Requests);
    }

    [Fact]
    public async Task SendAsync_TokenEndpointUnreachable_IsTransientNetwork()
    {
        var outcome = await Connector.SendAsync(TestHost.Message(PushToken), FcmAccount(Peer.BaseUrl, new Uri(ProviderPeer.ClosedPortUrl(), "token")), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("network", outcome.ErrorCode);
        Assert.Empty(Peer.Requests);
    }

    [Fact]
    public async Task SendAsync_SettingsChanged_ExchangesANewToken()
    {
        Peer.Answer(Success.Status, Success.Body);
        var account = PeerAccount();
        await Connector.SendAsync(TestHost.Message(PushToken), account, Ct);

        var rotated = account with { Settings = account.Settings.Replace("\"Example Bank\"", "\"Example Bank AG\"", StringComparison.Ordinal) };
        await Connector.SendAsync(TestHost.Message(PushToken), rotated, Ct);

        Assert.Equal(2, TokenPeer.Requests.Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task SendAsync_EmptyPushToken_IsPermanentInvalidAddressWithoutRequest(string to)
    {
        var outcome = await Connector.SendAsync(TestHost.Message(to), PeerAccount(), Ct);

        Assert.Equal(SendOutcomeKind.PermanentFailure, outcome.Kind);
        Assert.Equal("invalid_address", outcome.ErrorCode);
        Assert.Empty(Peer.Requests);
        Assert.Empty(TokenPeer.Requests);
    }

    public static TheoryData<string> UnusableSettings => new()
    {
        """{"project_id":"p","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}""",
        """{"project_id":"p","client_email":"a@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}""",
        """{"project_id":"p","client_email":"a@p.iam.gserviceaccount.com","private_key":"not a key"}""",
        """{"client_email":"a@p.iam.gserviceaccount.com","private_key":"x"}""",
        """{"project_id":"p","client_email":"a@p.iam.gserviceaccount.com","private_key":"x","token_uri":"/token"}""",
        "not json",
    };

    [Theory]
    [MemberData(nameof(UnusableSettings))]
    public async Task SendAsync_UnusableSettings_IsTransientInvalidSettingsWithoutRequest(string settings)
    {
        var account = PeerAccount() with { Settings = settings };

        var outcome = await Connector.SendAsync(TestHost.Message(PushToken), account, Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("invalid_settings", outcome.ErrorCode);
        Assert.Empty(Peer.Requests);
        Assert.Empty(TokenPeer.Requests);
    }

    [Fact]
    public async Task SendAsync_PublicKeyInsteadOfPrivateKey_IsTransientInvalidSettings()
    {
        var account = FcmAccount(Peer.BaseUrl, new Uri(TokenPeer.BaseUrl, "token"), privateKey: Key.ExportSubjectPublicKeyInfoPem());

        var outcome = await Connector.SendAsync(TestHost.Message(PushToken), account, Ct);

        Assert.Equal("invalid_settings", outcome.ErrorCode);
        Assert.DoesNotContain("MII", outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_ToString_NeverShowsTheKey()
    {
        using var doc = JsonDocument.Parse(PeerAccount().Settings);

        var text = FcmSettings.Parse(doc.RootElement).ToString();

        Assert.Contains(ProjectId, text, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE", text, StringComparison.Ordinal);
    }
}
