using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Push;

/// <summary>
/// Sends push notifications through Firebase Cloud Messaging's HTTP v1 API:
/// <c>POST {baseUrl}/v1/projects/{projectId}/messages:send {"message":{"token","notification":{"title","body"},"data"}}</c>
/// with an OAuth2 access token of the account's service account (<see cref="FcmAccessTokens"/>). FCM has no
/// delivery receipts: a 200 answer (<c>{"name":"projects/{p}/messages/{id}"}</c>) is
/// <see cref="SendOutcomeKind.Accepted"/> (attempt state <c>sent</c>), and the message name is the provider message id.
/// A 401 drops the cached token and the send is tried once more with a fresh one.
/// </summary>
public sealed class FcmConnector : IChannelConnector
{
    public const string ConnectorKind = "fcm";

    /// <summary>How errors name the far end.</summary>
    internal const string Api = "FCM";

    /// <summary>The HttpClient (IHttpClientFactory) used for the token exchange and the sends.</summary>
    public const string HttpClientName = "herald.fcm";

    /// <summary>An access token is refreshed this long before it expires, so no send carries a token about to lapse.</summary>
    public static readonly TimeSpan TokenRefreshBefore = TimeSpan.FromMinutes(5);

    private readonly AccountSettingsCache<FcmSettings> _settings = new(FcmSettings.Parse);
    private readonly IHttpClientFactory _httpClients;
    private readonly TimeProvider _time;
    private readonly FcmAccessTokens _tokens;

    public FcmConnector(IHttpClientFactory httpClients, TimeProvider time, ILogger<FcmConnector> logger)
    {
        _httpClients = httpClients;
        _time = time;
        _tokens = new FcmAccessTokens(httpClients, time, logger);
    }

    public string Kind => ConnectorKind;

    public Channel Channel => Channel.Push;

    public async Task<SendOutcome> SendAsync(OutboundMessage message, ProviderAccount account, CancellationToken ct)
    {
        var settings = _settings.Get(account, out var settingsError);
        if (settings is null)
        {
            return AccountSettings.Unusable(settingsError);
        }

        if (string.IsNullOrWhiteSpace(message.To))
        {
            return SendOutcome.Permanent("invalid_address", "push token is empty");
        }

        var body = WriteBody(message, settings.Title);
        var token = await _tokens.GetAsync(account.Id, settings, null, ct).ConfigureAwait(false);
        if (token.Failure is { } refused)
        {
            return refused;
        }

        var (outcome, unauthorized) = await SendOnceAsync(settings, body, token.Value!, ct).ConfigureAwait(false);
        if (!unauthorized)
        {
            return outcome;
        }

        // The token was revoked or the key rotated before it expired: one fresh token, one more try.
        token = await _tokens.GetAsync(account.Id, settings, token.Value, ct).ConfigureAwait(false);
        if (token.Failure is { } refusedAgain)
        {
            return refusedAgain;
        }

        (outcome, _) = await SendOnceAsync(settings, body, token.Value!, ct).ConfigureAwait(false);
        return outcome;
    }

    private async Task<(SendOutcome Outcome, bool Unauthorized)> SendOnceAsync(FcmSettings settings, byte[] body, string accessToken, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, settings.SendUri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = ConnectorHttp.Json;
        request.Content = content;
        var unauthorized = false;
        var outcome = await ConnectorHttp.SendAsync(
            _httpClients.CreateClient(HttpClientName), request,
            response =>
            {
                unauthorized = response.StatusCode == System.Net.HttpStatusCode.Unauthorized;
                return ReadAsync(response, ct);
            },
            Api, ct).ConfigureAwait(false);
        return (outcome, unauthorized);
    }

    private async Task<SendOutcome> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        using var doc = await ConnectorHttp.TryReadJsonAsync(response, ct).ConfigureAwait(false);
        var retryAfter = ConnectorHttp.RetryAfter(response, _time);
        if (doc is null)
        {
            return response.IsSuccessStatusCode
                ? SendOutcome.Transient("malformed_response", $"HTTP {status} with a body that is not JSON")
                : FcmErrors.Map(null, null, status, retryAfter);
        }

        var root = doc.RootElement;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            var (fcmCode, rpcStatus) = Codes(error);
            return FcmErrors.Map(fcmCode, rpcStatus, status, retryAfter);
        }

        if (!response.IsSuccessStatusCode)
        {
            return FcmErrors.Map(null, null, status, retryAfter);
        }

        return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
            && name.GetString() is { Length: > 0 } id
            ? new SendOutcome(SendOutcomeKind.Accepted, ProviderMessageId: id)
            : SendOutcome.Transient("malformed_response", $"HTTP {status} without the message name");
    }

    /// <summary>The FcmError detail's errorCode and the rpc status (FCM's message text is not kept: see
    /// <see cref="ProviderErrors"/>).</summary>
    private static (string? FcmCode, string? RpcStatus) Codes(JsonElement error)
    {
        var rpcStatus = error.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        string? fcmCode = null;
        if (error.TryGetProperty("details", out var details) && details.ValueKind == JsonValueKind.Array)
        {
            foreach (var detail in details.EnumerateArray())
            {
                if (detail.ValueKind == JsonValueKind.Object
                    && detail.TryGetProperty("@type", out var type) && type.ValueKind == JsonValueKind.String
                    && string.Equals(type.GetString(), FcmErrors.FcmErrorType, StringComparison.Ordinal)
                    && detail.TryGetProperty("errorCode", out var code) && code.ValueKind == JsonValueKind.String)
                {
                    fcmCode = code.GetString();
                    break;
                }
            }
        }

        return (fcmCode, rpcStatus);
    }

    /// <summary>The Android click_action and iOS notification category of a push that offers reply choices.</summary>
    public const string ReplyCategory = "HERALD_REPLY";

    internal static byte[] WriteBody(OutboundMessage message, string? title)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + message.Text.Length * 2 + message.To.Length);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("message");
            w.WriteString("token", message.To);
            w.WriteStartObject("notification");
            if (title is not null)
            {
                w.WriteString("title", title);
            }

            w.WriteString("body", message.Text);
            w.WriteEndObject();
            // Lets the bank's app correlate the push with the notification it can look up.
            w.WriteStartObject("data");
            w.WriteString("heraldNotificationId", message.NotificationId.ToString("D"));
            w.WriteString("heraldAttemptId", message.AttemptId.ToString("D"));
            if (message.Actions.Count > 0)
            {
                // FCM data values are strings: the choices as a JSON array text for the bank's app, which shows them as
                // notification actions and posts the tapped one back (docs/TWO-WAY.md).
                w.WriteString("heraldActions", JsonSerializer.Serialize(message.Actions, FcmJson.Default.IReadOnlyListNotificationAction));
            }

            w.WriteEndObject();
            if (message.Actions.Count > 0)
            {
                // The platforms' hooks for action buttons: Android launches the activity filtering this click_action,
                // iOS shows the buttons of the notification category the app registered under this name.
                w.WriteStartObject("android");
                w.WriteStartObject("notification");
                w.WriteString("click_action", ReplyCategory);
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteStartObject("apns");
                w.WriteStartObject("payload");
                w.WriteStartObject("aps");
                w.WriteString("category", ReplyCategory);
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>Source-generated JSON for the push data the connector writes.</summary>
[JsonSerializable(typeof(IReadOnlyList<NotificationAction>))]
internal sealed partial class FcmJson : JsonSerializerContext;
