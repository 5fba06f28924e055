using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Sandbox.Fcm;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Sandbox.Tests;

/// <summary>The FCM simulator over HTTP: Google's service-account token flow and FCM HTTP v1's answers.</summary>
public sealed class FcmSimulatorTests : IAsyncLifetime
{
    private const string Scope = "https://www.googleapis.com/auth/firebase.messaging";

    private static readonly RSA Key = RSA.Create(2048);

    private SandboxHost host = null!;

    public async ValueTask InitializeAsync() => host = await SandboxHost.StartAsync();

    public async ValueTask DisposeAsync() => await host.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string TokenUri => host.BaseUrl.TrimEnd('/') + "/sandbox/fcm/token";

    /// <summary>A service-account JWT as Google's client libraries build it.</summary>
    private static string Jwt(RSA key, string issuer, string audience, long iat, long exp, string scope = Scope, string alg = "RS256")
    {
        var header = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new { alg, typ = "JWT", kid = "k1" }));
        var claims = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new { iss = issuer, scope, aud = audience, iat, exp }));
        var signature = key.SignData(Encoding.ASCII.GetBytes(header + "." + claims), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return header + "." + claims + "." + Base64Url.EncodeToString(signature);
    }

    private string Jwt(RSA? key = null, string issuer = "herald@unknown-project.iam.gserviceaccount.com", string? audience = null, int lifetimeSeconds = 3600, int issuedSecondsAgo = 0, string scope = Scope)
    {
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds() - issuedSecondsAgo;
        return Jwt(key ?? Key, issuer, audience ?? TokenUri, now, now + lifetimeSeconds, scope);
    }

    private Task<HttpResponseMessage> ExchangeAsync(string assertion, string grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer") =>
        host.Client.PostAsync("/sandbox/fcm/token", new FormUrlEncodedContent([new("grant_type", grantType), new("assertion", assertion)]), Ct);

    private async Task<string> AccessTokenAsync()
    {
        using var response = await ExchangeAsync(Jwt());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return json.RootElement.GetProperty("access_token").GetString()!;
    }

    private async Task<(HttpStatusCode Status, JsonDocument Body, HttpResponseMessage Response)> SendAsync(object body, string? accessToken, string projectId = "bank-app")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/sandbox/fcm/v1/projects/{projectId}/messages:send") { Content = JsonContent.Create(body) };
        if (accessToken is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", accessToken);
        }

        var response = await host.Client.SendAsync(request, Ct);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)), response);
    }

    private static object Message(string token, string body = "Your card was charged 10.00 EUR") =>
        new { message = new { token, notification = new { title = "Example Bank", body }, data = new { kind = "card" } } };

    private static void AssertStatus(JsonDocument body, int code, string status, string? fcmErrorCode)
    {
        var error = body.RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetInt32());
        Assert.Equal(status, error.GetProperty("status").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        if (fcmErrorCode is not null)
        {
            Assert.Contains(error.GetProperty("details").EnumerateArray(), d =>
                d.GetProperty("@type").GetString() == "type.googleapis.com/google.firebase.fcm.v1.FcmError" && d.GetProperty("errorCode").GetString() == fcmErrorCode);
        }
    }

    [Fact]
    public async Task TokenThenSend_ValidJwt_ReturnsAccessTokenAndMessageNameAndTheCustomerReceivesIt()
    {
        using var exchange = await ExchangeAsync(Jwt());
        Assert.Equal(HttpStatusCode.OK, exchange.StatusCode);
        using var token = JsonDocument.Parse(await exchange.Content.ReadAsStringAsync(Ct));
        Assert.Equal("Bearer", token.RootElement.GetProperty("token_type").GetString());
        Assert.Equal(3599, token.RootElement.GetProperty("expires_in").GetInt32());
        var accessToken = token.RootElement.GetProperty("access_token").GetString()!;

        var (status, body, response) = await SendAsync(Message("dGVzdC10b2tlbg:APA91bH-1"), accessToken);

        using (response)
        using (body)
        {
            Assert.Equal(HttpStatusCode.OK, status);
            var name = body.RootElement.GetProperty("name").GetString()!;
            Assert.Matches("^projects/bank-app/messages/0:[0-9]+%[0-9a-f]{16}$", name);
            using var messages = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=push&to=dGVzdC10b2tlbg:APA91bH-1", Ct));
            var received = Assert.Single(messages.RootElement.EnumerateArray());
            Assert.Equal("push", received.GetProperty("channel").GetString());
            Assert.Equal("Your card was charged 10.00 EUR", received.GetProperty("text").GetString());
            Assert.Equal(name, received.GetProperty("providerMessageId").GetString());
            Assert.Equal("bank-app", received.GetProperty("account").GetString());
        }
    }

    [Fact]
    public async Task Token_ProvisionedAccount_IsCheckedAgainstItsPublicKey()
    {
        var simulator = host.Services.GetRequiredService<FcmSimulator>();
        var settings = simulator.ProvisionServiceAccount(host.BaseUrl.TrimEnd('/') + "/sandbox");
        using var provisioned = RSA.Create();
        provisioned.ImportFromPem(settings["private_key"]);
        Assert.Equal(TokenUri, settings["token_uri"]);
        Assert.EndsWith(".iam.gserviceaccount.com", settings["client_email"], StringComparison.Ordinal);

        using var good = await ExchangeAsync(Jwt(provisioned, settings["client_email"]));
        using var forged = await ExchangeAsync(Jwt(Key, settings["client_email"]));

        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        using var error = JsonDocument.Parse(await forged.Content.ReadAsStringAsync(Ct));
        Assert.Equal("invalid_grant", error.RootElement.GetProperty("error").GetString());
        Assert.Equal("Invalid JWT Signature.", error.RootElement.GetProperty("error_description").GetString());
    }

    public static TheoryData<string, string> BadAssertions => new()
    {
        { "expired", "invalid_grant" },
        { "lives longer than an hour", "invalid_grant" },
        { "issued in the future", "invalid_grant" },
        { "other audience", "invalid_grant" },
        { "no firebase scope", "invalid_scope" },
        { "not a JWT", "invalid_grant" },
        { "HS256", "invalid_grant" },
        { "truncated signature", "invalid_grant" },
    };

    [Theory]
    [MemberData(nameof(BadAssertions))]
    public async Task Token_BadAssertion_Is400WithOAuthError(string what, string error)
    {
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        var assertion = what switch
        {
            "expired" => Jwt(issuedSecondsAgo: 3700),
            "lives longer than an hour" => Jwt(lifetimeSeconds: 7200),
            "issued in the future" => Jwt(Key, "a@p.iam.gserviceaccount.com", TokenUri, now + 3000, now + 3600),
            "other audience" => Jwt(audience: "https://oauth2.googleapis.com/token"),
            "no firebase scope" => Jwt(scope: "https://www.googleapis.com/auth/userinfo.email"),
            "not a JWT" => "not-a-jwt",
            "HS256" => Jwt(Key, "a@p.iam.gserviceaccount.com", TokenUri, now, now + 3600, alg: "HS256"),
            "truncated signature" => Jwt()[..^300],
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };

        using var response = await ExchangeAsync(assertion);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(error, json.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Token_OtherGrantType_Is400UnsupportedGrantType()
    {
        using var response = await ExchangeAsync(Jwt(), "client_credentials");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("unsupported_grant_type", json.RootElement.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("ya29.made-up")]
    public async Task Send_WithoutAValidAccessToken_Is401Unauthenticated(string? accessToken)
    {
        var (status, body, response) = await SendAsync(Message("tok-1"), accessToken);

        using (response)
        using (body)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            AssertStatus(body, 401, "UNAUTHENTICATED", null);
            Assert.Empty(await MessagesAsync("tok-1"));
        }
    }

    [Fact]
    public async Task Send_TokenEndingUnregistered_Is404UnregisteredAndCountedAsRejected()
    {
        var (status, body, response) = await SendAsync(Message("device-42-unregistered"), await AccessTokenAsync(), "rejecting-app");

        using (response)
        using (body)
        {
            Assert.Equal(HttpStatusCode.NotFound, status);
            AssertStatus(body, 404, "NOT_FOUND", "UNREGISTERED");
            Assert.Empty(await MessagesAsync("device-42-unregistered"));
            using var stats = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/stats", Ct));
            Assert.Equal(1, stats.RootElement.GetProperty("push").GetProperty("accounts").GetProperty("rejecting-app").GetProperty("rejected").GetInt64());
        }
    }

    public static TheoryData<string, string> InvalidMessages => new()
    {
        { """{"message":{"notification":{"body":"no target"}}}""", "message" },
        { """{"message":{"token":"has white space","notification":{"body":"x"}}}""", "" },
        { """{"message":{"token":"tok-2","data":{"amount":12}}}""", "message.data[0].value" },
        { """{"message":{"token":"tok-2","topic":"news"}}""", "message" },
        { "{not json", "" },
    };

    [Theory]
    [MemberData(nameof(InvalidMessages))]
    public async Task Send_InvalidMessage_Is400InvalidArgument(string json, string field)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/sandbox/fcm/v1/projects/bank-app/messages:send")
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", await AccessTokenAsync());

        using var response = await host.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        AssertStatus(body, 400, "INVALID_ARGUMENT", null);
        if (field.Length > 0)
        {
            var violation = body.RootElement.GetProperty("error").GetProperty("details").EnumerateArray()
                .Single(d => d.GetProperty("@type").GetString() == "type.googleapis.com/google.rpc.BadRequest");
            Assert.Equal(field, violation.GetProperty("fieldViolations")[0].GetProperty("field").GetString());
        }

        Assert.Empty(await MessagesAsync("tok-2"));
    }

    [Fact]
    public async Task Send_ValidateOnly_AnswersFakeMessageIdAndDeliversNothing()
    {
        var (status, body, response) = await SendAsync(new { validate_only = true, message = new { token = "tok-3", notification = new { body = "dry run" } } }, await AccessTokenAsync());

        using (response)
        using (body)
        {
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("projects/bank-app/messages/fake_message_id", body.RootElement.GetProperty("name").GetString());
            Assert.Empty(await MessagesAsync("tok-3"));
        }
    }

    [Fact]
    public async Task Send_FailureRateOne_Is503Unavailable()
    {
        var accessToken = await AccessTokenAsync();
        using var put = await host.Client.PutAsJsonAsync("/sandbox/settings", new { failureRate = 1.0 }, Ct);
        put.EnsureSuccessStatusCode();

        var (status, body, response) = await SendAsync(Message("tok-4"), accessToken);

        using (response)
        using (body)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            AssertStatus(body, 503, "UNAVAILABLE", "UNAVAILABLE");
        }
    }

    [Fact]
    public async Task Send_AboveRatePerSecond_Is429QuotaExceededWithRetryAfter()
    {
        var accessToken = await AccessTokenAsync();
        using var put = await host.Client.PutAsJsonAsync("/sandbox/settings", new { ratePerSecond = 1 }, Ct);
        put.EnsureSuccessStatusCode();

        // Sends in quick succession: two of them share a second sooner or later.
        for (var i = 0; i < 50; i++)
        {
            var (status, body, response) = await SendAsync(Message($"tok-rate-{i}"), accessToken, "rate-app");
            using (response)
            using (body)
            {
                if (status == HttpStatusCode.OK)
                {
                    continue;
                }

                Assert.Equal(HttpStatusCode.TooManyRequests, status);
                AssertStatus(body, 429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED");
                Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
                Assert.Empty(await MessagesAsync($"tok-rate-{i}"));
                return;
            }
        }

        Assert.Fail("no send was refused at 1 per second");
    }

    private async Task<List<JsonElement>> MessagesAsync(string to)
    {
        using var messages = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=push&to=" + Uri.EscapeDataString(to), Ct));
        return [.. messages.RootElement.EnumerateArray().Select(static e => e.Clone())];
    }
}
