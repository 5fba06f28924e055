using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Herald.Core.Delivery;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Push;

/// <summary>An OAuth2 access token, or why none could be had.</summary>
internal readonly record struct FcmAccessToken(string? Value, SendOutcome? Failure);

/// <summary>
/// Access tokens per provider account: a signed service-account JWT exchanged at the account's <c>token_uri</c>
/// (<c>grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer</c>). A token is reused until
/// <see cref="FcmConnector.TokenRefreshBefore"/> ahead of its expiry; one refresh runs at a time per account, so a burst of sends
/// costs one exchange. A token the API rejected (401) is dropped and fetched again.
/// </summary>
internal sealed partial class FcmAccessTokens(IHttpClientFactory httpClients, TimeProvider time, ILogger logger)
{
    internal const string GrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer";

    // A token exchange refused for the account's own reasons (revoked key, clock skew) will not heal in seconds.
    private static readonly TimeSpan AccountFaultPause = TimeSpan.FromSeconds(30);

    // Sentinel for "the exchange worked": ConnectorHttp maps what never became an answer, this marks what did.
    private static readonly SendOutcome Exchanged = new(SendOutcomeKind.Accepted);

    private readonly ConcurrentDictionary<Guid, Slot> _slots = new();

    public async Task<FcmAccessToken> GetAsync(Guid accountId, FcmSettings settings, string? rejected, CancellationToken ct)
    {
        var slot = _slots.GetOrAdd(accountId, static _ => new Slot());
        if (Usable(slot.Token, settings, rejected) is { } fresh)
        {
            return new FcmAccessToken(fresh, null);
        }

        await slot.Gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // Another send may have refreshed it while this one waited.
            if (Usable(slot.Token, settings, rejected) is { } refreshed)
            {
                return new FcmAccessToken(refreshed, null);
            }

            slot.Token = null;
            var (token, failure) = await ExchangeAsync(settings, ct).ConfigureAwait(false);
            if (token is not null)
            {
                slot.Token = token;
                LogTokenIssued(logger, accountId, token.ExpiresAt);
                return new FcmAccessToken(token.Value, null);
            }

            LogTokenRefused(logger, accountId, failure!.ErrorCode ?? "");
            return new FcmAccessToken(null, failure);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    private string? Usable(Cached? cached, FcmSettings settings, string? rejected) =>
        cached is not null
        && ReferenceEquals(cached.Settings, settings)
        && !string.Equals(cached.Value, rejected, StringComparison.Ordinal)
        && time.GetUtcNow() < cached.ExpiresAt - FcmConnector.TokenRefreshBefore
            ? cached.Value
            : null;

    private async Task<(Cached? Token, SendOutcome? Failure)> ExchangeAsync(FcmSettings settings, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var assertion = ServiceAccountJwt.Create(settings.PrivateKey, settings.PrivateKeyId, settings.ClientEmail, FcmSettings.Scope, settings.TokenUri.AbsoluteUri, now);
        using var request = new HttpRequestMessage(HttpMethod.Post, settings.TokenUri)
        {
            Content = new FormUrlEncodedContent([new("grant_type", GrantType), new("assertion", assertion)]),
        };

        Cached? token = null;
        var outcome = await ConnectorHttp.SendAsync(
            httpClients.CreateClient(FcmConnector.HttpClientName), request,
            async response =>
            {
                var (value, lifetime, failure) = await ReadAsync(response, ct).ConfigureAwait(false);
                if (failure is not null)
                {
                    return failure;
                }

                token = new Cached(value!, now + lifetime, settings);
                return Exchanged;
            },
            "FCM token endpoint", ct).ConfigureAwait(false);
        return token is not null ? (token, null) : (null, outcome);
    }

    private async Task<(string? Value, TimeSpan Lifetime, SendOutcome? Failure)> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        using var doc = await ConnectorHttp.TryReadJsonAsync(response, ct).ConfigureAwait(false);
        var root = doc?.RootElement;
        if (response.IsSuccessStatusCode)
        {
            if (root is { ValueKind: JsonValueKind.Object } ok
                && ok.TryGetProperty("access_token", out var at) && at.ValueKind == JsonValueKind.String && at.GetString() is { Length: > 0 } value
                && ok.TryGetProperty("expires_in", out var exp) && exp.ValueKind == JsonValueKind.Number && exp.TryGetInt64(out var seconds) && seconds > 0)
            {
                return (value, TimeSpan.FromSeconds(Math.Min(seconds, 24 * 3600)), null);
            }

            return (null, default, SendOutcome.Transient("auth", $"FCM token endpoint: HTTP {status} without access_token and expires_in"));
        }

        // RFC 6749 §5.2: {"error":"invalid_grant","error_description":"Invalid JWT Signature."}. Only the error code
        // is kept (cut to a code's characters): the description is the far end's text (see ProviderErrors).
        var error = root is { ValueKind: JsonValueKind.Object } e && e.TryGetProperty("error", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString() : null;
        var message = $"FCM token endpoint: HTTP {status.ToString(CultureInfo.InvariantCulture)}"
            + (error is null ? "" : " " + ProviderErrors.SafeCode(error)) + ": the service account's token was refused";
        var retryAfter = ConnectorHttp.RetryAfter(response, time);
        var failure = status is >= 400 and < 500 and not 408 and not 429
            ? SendOutcome.Transient("auth", message, retryAfter ?? AccountFaultPause)
            : SendOutcome.Transient("auth", message, retryAfter);
        return (null, default, failure);
    }

    private sealed class Slot
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public volatile Cached? Token;
    }

    private sealed record Cached(string Value, DateTimeOffset ExpiresAt, FcmSettings Settings);

    [LoggerMessage(EventId = 3450, Level = LogLevel.Debug, Message = "FCM access token issued for provider account {AccountId}, valid until {ExpiresAt}")]
    private static partial void LogTokenIssued(ILogger logger, Guid accountId, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 3451, Level = LogLevel.Warning, Message = "FCM access token refused for provider account {AccountId} ({ErrorCode})")]
    private static partial void LogTokenRefused(ILogger logger, Guid accountId, string errorCode);
}
