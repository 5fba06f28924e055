using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Throttling;

namespace Herald.Sandbox.Fcm;

/// <summary>
/// Firebase Cloud Messaging HTTP v1 with Google's OAuth2 service-account flow, below <c>/sandbox/fcm</c>:
/// <list type="bullet">
/// <item><c>POST /token</c> (the service account's <c>token_uri</c>): takes <c>grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer</c>
/// and a signed JWT assertion; checks its shape, RS256, audience (this endpoint), lifetime (at most one hour, not expired)
/// and scope, and its signature against the public key of a service account provisioned here
/// (<see cref="ProvisionServiceAccount"/>); an unknown service account is accepted on shape alone, as the sandbox
/// accepts any credentials. Answers an access token valid for 3599 s.</item>
/// <item><c>POST /v1/projects/{projectId}/messages:send</c> with that bearer token: FCM's answers and error shapes.
/// A token ending <c>unregistered</c> is 404 UNREGISTERED. Honours latency, rate (429 QUOTA_EXCEEDED per project) and
/// failure rate (503 UNAVAILABLE); what is accepted shows up in the mailbox (channel <c>push</c>, to = the token).</item>
/// </list>
/// </summary>
public sealed class FcmSimulator(
    SandboxSettings settings,
    SandboxMailbox mailbox,
    SandboxRateLimiter rateLimiter,
    SandboxStats stats,
    TimeProvider time)
{
    /// <summary>Channel name used in the mailbox and stats.</summary>
    public const string ChannelName = "push";

    /// <summary>Lifetime of the access tokens handed out, as Google's (3599 s).</summary>
    public const int AccessTokenSeconds = 3599;

    /// <summary>The magic push token suffix: FCM answers 404 UNREGISTERED.</summary>
    public const string UnregisteredSuffix = "unregistered";

    private const string JwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    private const string ShortLived = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, byte[]> serviceAccounts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> accessTokens = new(StringComparer.Ordinal);
    private int issued;

    /// <summary>
    /// Creates a throwaway service account whose tokens this simulator verifies by signature: an RSA-2048 key pair
    /// (the public half stays here), returned as the settings of an "fcm" provider account — the fields of a Google
    /// service-account key file plus <c>baseUrl</c>. Provisioning is in memory: after a restart the account is
    /// unknown again and its JWTs are checked by shape only.
    /// </summary>
    /// <param name="sandboxBaseUrl">Where <c>/sandbox</c> is reached, e.g. <c>http://127.0.0.1:5000/sandbox</c>.</param>
    /// <param name="title">The notification title the account sends (the bank's name), when given.</param>
    public Dictionary<string, string> ProvisionServiceAccount(string sandboxBaseUrl, string? title = null)
    {
        var root = sandboxBaseUrl.TrimEnd('/');
        var projectId = "herald-sandbox-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var clientEmail = $"herald@{projectId}.iam.gserviceaccount.com";
        using var key = RSA.Create(2048);
        TrustServiceAccount(clientEmail, key.ExportSubjectPublicKeyInfoPem());
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["type"] = "service_account",
            ["project_id"] = projectId,
            ["private_key_id"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)),
            ["private_key"] = key.ExportPkcs8PrivateKeyPem(),
            ["client_email"] = clientEmail,
            ["token_uri"] = root + "/fcm/token",
            ["baseUrl"] = root + "/fcm",
        };
        if (!string.IsNullOrEmpty(title))
        {
            settings["title"] = title;
        }

        return settings;
    }

    /// <summary>From now on, JWTs issued by <paramref name="clientEmail"/> must carry a signature of this public key.</summary>
    public void TrustServiceAccount(string clientEmail, string publicKeyPem)
    {
        using var rsa = RSA.Create();
        rsa.ImportFromPem(publicKeyPem);
        serviceAccounts[clientEmail] = rsa.ExportSubjectPublicKeyInfo();
    }

    /// <summary>Forgets every access token handed out, as a restarted sandbox would: the next sends get 401.</summary>
    public void ForgetAccessTokens() => accessTokens.Clear();

    /// <summary>The token endpoint (Google's <c>https://oauth2.googleapis.com/token</c>).</summary>
    public async Task<IResult> TokenAsync(HttpContext context, CancellationToken cancellationToken)
    {
        await DelayAsync(cancellationToken).ConfigureAwait(false);
        if (!context.Request.HasFormContentType)
        {
            return FcmResponses.TokenError("invalid_request", "Request must be application/x-www-form-urlencoded.");
        }

        var form = await context.Request.ReadFormAsync(cancellationToken).ConfigureAwait(false);
        var grantType = form["grant_type"].ToString();
        if (!string.Equals(grantType, JwtBearer, StringComparison.Ordinal))
        {
            return FcmResponses.TokenError("unsupported_grant_type", "Invalid grant_type: " + grantType);
        }

        var assertion = form["assertion"].ToString();
        if (assertion.Length == 0)
        {
            return FcmResponses.TokenError("invalid_request", "Missing required parameter: assertion");
        }

        var audience = $"{context.Request.PathBase}{context.Request.Path}";
        if (Check(assertion, audience) is { } refused)
        {
            return refused;
        }

        var token = "ya29.sandbox." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var now = time.GetUtcNow();
        accessTokens[token] = now.AddSeconds(AccessTokenSeconds);
        if (Interlocked.Increment(ref issued) % 1024 == 0)
        {
            foreach (var (old, expires) in accessTokens)
            {
                if (expires <= now)
                {
                    accessTokens.TryRemove(old, out _);
                }
            }
        }

        return FcmResponses.Token(token, AccessTokenSeconds);
    }

    /// <summary><c>projects.messages.send</c>.</summary>
    public async Task<IResult> SendAsync(HttpContext context, string projectId, CancellationToken cancellationToken)
    {
        var current = settings.Current;
        await DelayAsync(cancellationToken).ConfigureAwait(false);
        if (!Authorized(context.Request))
        {
            stats.Rejected(ChannelName, projectId);
            return FcmResponses.Unauthenticated();
        }

        var rate = rateLimiter.TryAcquire(ChannelName + ":" + projectId, current.RatePerSecond);
        if (!rate.Allowed)
        {
            stats.RateLimited(ChannelName, projectId);
            return FcmResponses.QuotaExceeded(rate.RetryAfterSeconds);
        }

        JsonDocument body;
        try
        {
            body = await JsonDocument.ParseAsync(context.Request.Body, default, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            stats.Rejected(ChannelName, projectId);
            return FcmResponses.InvalidField("", "Invalid JSON payload received.");
        }

        using (body)
        {
            if (Read(body.RootElement) is not { } message)
            {
                stats.Rejected(ChannelName, projectId);
                return FcmResponses.InvalidField("message", "Recipient of the message is not set.");
            }

            if (message.Invalid is { } invalid)
            {
                stats.Rejected(ChannelName, projectId);
                return invalid;
            }

            if (message.To.EndsWith(UnregisteredSuffix, StringComparison.OrdinalIgnoreCase))
            {
                stats.Rejected(ChannelName, projectId);
                return FcmResponses.Unregistered();
            }

            if (current.FailureRate > 0 && Random.Shared.NextDouble() < current.FailureRate)
            {
                stats.Failed(ChannelName, projectId);
                return FcmResponses.Unavailable();
            }

            if (message.ValidateOnly)
            {
                return FcmResponses.Sent($"projects/{projectId}/messages/fake_message_id");
            }

            var now = time.GetUtcNow();
            var name = $"projects/{projectId}/messages/0:{now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)}%{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}";
            mailbox.Add(new SandboxMessage(ChannelName, message.To, message.Body, null, name, now, projectId) { Subject = message.Title });
            stats.Accepted(ChannelName, projectId);
            return FcmResponses.Sent(name);
        }
    }

    private Task DelayAsync(CancellationToken cancellationToken)
    {
        var latency = settings.Current.LatencyMs;
        return latency > 0 ? Task.Delay(TimeSpan.FromMilliseconds(latency), time, cancellationToken) : Task.CompletedTask;
    }

    private bool Authorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string bearer = "Bearer ";
        return header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase)
            && accessTokens.TryGetValue(header[bearer.Length..].Trim(), out var expires)
            && time.GetUtcNow() < expires;
    }

    /// <summary>Why the assertion is refused, or null when it is good.</summary>
    private IResult? Check(string assertion, string audiencePath)
    {
        var parts = assertion.Split('.');
        if (parts.Length != 3 || Json(parts[0]) is not { } header || Json(parts[1]) is not { } claims)
        {
            return FcmResponses.TokenError("invalid_grant", "Invalid JWT: the assertion is not a JWS compact serialization.");
        }

        using (header)
        using (claims)
        {
            if (String(header.RootElement, "alg") != "RS256")
            {
                return FcmResponses.TokenError("invalid_grant", "Invalid JWT: only RS256 is supported.");
            }

            var c = claims.RootElement;
            if (String(c, "iss") is not { Length: > 0 } issuer)
            {
                return FcmResponses.TokenError("invalid_grant", "Invalid JWT: iss is missing.");
            }

            if (String(c, "aud") is not { } aud || !Uri.TryCreate(aud, UriKind.Absolute, out var audUri)
                || !string.Equals(audUri.AbsolutePath, audiencePath, StringComparison.Ordinal))
            {
                return FcmResponses.TokenError("invalid_grant", "Invalid JWT: aud must be the token endpoint's URL.");
            }

            var now = time.GetUtcNow().ToUnixTimeSeconds();
            if (Number(c, "iat") is not { } iat || Number(c, "exp") is not { } exp
                || exp <= now || exp - iat > 3600 || exp <= iat || iat > now + (long)ClockSkew.TotalSeconds)
            {
                return FcmResponses.TokenError("invalid_grant", ShortLived);
            }

            var scopes = (String(c, "scope") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (!scopes.Contains("https://www.googleapis.com/auth/firebase.messaging", StringComparer.Ordinal)
                && !scopes.Contains("https://www.googleapis.com/auth/cloud-platform", StringComparer.Ordinal))
            {
                return FcmResponses.TokenError("invalid_scope", "Invalid OAuth scope or ID token audience provided.");
            }

            byte[] signature;
            try
            {
                signature = Base64Url.DecodeFromChars(parts[2]);
            }
            catch (FormatException)
            {
                return FcmResponses.TokenError("invalid_grant", "Invalid JWT Signature.");
            }

            if (serviceAccounts.TryGetValue(issuer, out var publicKey))
            {
                using var rsa = RSA.Create();
                rsa.ImportSubjectPublicKeyInfo(publicKey, out _);
                var signed = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
                if (!rsa.VerifyData(signed, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
                {
                    return FcmResponses.TokenError("invalid_grant", "Invalid JWT Signature.");
                }
            }
            else if (signature.Length is < 256 or > 512)
            {
                // Unknown account: RS256 with a 2048..4096-bit key is all that can be checked.
                return FcmResponses.TokenError("invalid_grant", "Invalid JWT Signature.");
            }

            return null;
        }
    }

    private static Message? Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("message", out var m) || m.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var validateOnly = root.TryGetProperty("validate_only", out var v) && v.ValueKind == JsonValueKind.True;
        var token = String(m, "token");
        var topic = String(m, "topic");
        var condition = String(m, "condition");
        var targets = (token is null ? 0 : 1) + (topic is null ? 0 : 1) + (condition is null ? 0 : 1);
        if (targets == 0)
        {
            return null;
        }

        string? title = null;
        string? text = null;
        if (m.TryGetProperty("notification", out var n) && n.ValueKind == JsonValueKind.Object)
        {
            title = String(n, "title");
            text = String(n, "body");
        }

        var message = new Message(token ?? (topic is not null ? "/topics/" + topic : condition!), title, text, validateOnly, null);
        if (targets > 1)
        {
            return message with { Invalid = FcmResponses.InvalidField("message", "Exactly one of token, topic or condition must be set.") };
        }

        if (token is not null && (token.Length is 0 or > 4096 || token.Any(char.IsWhiteSpace)))
        {
            return message with { Invalid = FcmResponses.InvalidToken() };
        }

        if (m.TryGetProperty("data", out var data))
        {
            if (data.ValueKind != JsonValueKind.Object)
            {
                return message with { Invalid = FcmResponses.InvalidField("message.data", "Invalid value at 'message.data' (type.googleapis.com/google.firebase.fcm.v1.Message.DataEntry)") };
            }

            var i = 0;
            foreach (var entry in data.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    var field = $"message.data[{i.ToString(CultureInfo.InvariantCulture)}].value";
                    return message with { Invalid = FcmResponses.InvalidField(field, $"Invalid value at '{field}' (TYPE_STRING), {entry.Value.GetRawText()}") };
                }

                i++;
            }
        }

        return message;
    }

    private static JsonDocument? Json(string base64Url)
    {
        try
        {
            return JsonDocument.Parse(Base64Url.DecodeFromChars(base64Url));
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return null;
        }
    }

    private static string? String(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;

    private static long? Number(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt64(out var n) ? n : null;

    private sealed record Message(string To, string? Title, string? Body, bool ValidateOnly, IResult? Invalid);
}
