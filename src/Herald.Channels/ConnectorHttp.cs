using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Herald.Core.Delivery;

namespace Herald.Channels;

/// <summary>Names of the HttpClients the connectors use (IHttpClientFactory).</summary>
public static class ChannelHttpClients
{
    public const string WhatsApp = "herald.whatsapp-cloud";
    public const string Telegram = "herald.telegram-bot";
    public const string TwilioSms = "herald.twilio-sms";
}

internal static class ConnectorHttp
{
    internal static readonly MediaTypeHeaderValue Json = new("application/json") { CharSet = "utf-8" };

    /// <summary>
    /// Sends one provider request and reads its answer, mapping what never became an answer the same way for every
    /// connector: the HttpClient's timeout → transient <c>timeout</c>, a destination the egress guard refused →
    /// <see cref="Egress.EgressErrors.RefusedCode"/> (an account fault), a connection or protocol failure → transient
    /// <c>network</c>, described in Herald's words (an exception message may carry the request URI with a token in
    /// it, or what the far end said). Only cancellation of <paramref name="ct"/> propagates.
    /// </summary>
    public static async Task<SendOutcome> SendAsync(
        HttpClient http, HttpRequestMessage request, Func<HttpResponseMessage, Task<SendOutcome>> read, string api, CancellationToken ct)
    {
        try
        {
            using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
            return await read(response).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return SendOutcome.Transient("timeout", $"{api} did not answer in time");
        }
        catch (HttpRequestException e) when (e.InnerException is Egress.EgressRefusedException)
        {
            return Egress.EgressErrors.Refused(api);
        }
        catch (HttpRequestException e)
        {
            return SendOutcome.Transient("network", $"{api}: " + e.HttpRequestError switch
            {
                HttpRequestError.NameResolutionError => "the host name does not resolve",
                HttpRequestError.ConnectionError => "could not connect",
                HttpRequestError.SecureConnectionError => "the TLS handshake failed",
                HttpRequestError.ResponseEnded => "the connection closed before a whole answer",
                HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError => "the answer is not valid HTTP",
                HttpRequestError.ConfigurationLimitExceeded => "the answer exceeds a configured limit",
                _ => "the request failed",
            });
        }
    }

    /// <summary>The response body as JSON, or null when it is not JSON (an HTML error page from a proxy, say).</summary>
    public static async Task<JsonDocument?> TryReadJsonAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return await JsonDocument.ParseAsync(stream, default, ct).ConfigureAwait(false);
            }
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads a provider's JSON answer the way the JSON connectors share: a body that is not JSON (an HTML error page
    /// from a proxy, say) is a transient <c>malformed_response</c> on a 2xx answer and <paramref name="withoutBody"/>
    /// otherwise; a JSON body goes to <paramref name="read"/>, which maps it while the document is alive.
    /// </summary>
    public static async Task<SendOutcome> ReadJsonAnswerAsync(
        HttpResponseMessage response, Func<SendOutcome> withoutBody, Func<JsonElement, SendOutcome> read, CancellationToken ct)
    {
        var doc = await TryReadJsonAsync(response, ct).ConfigureAwait(false);
        if (doc is null)
        {
            return response.IsSuccessStatusCode
                ? SendOutcome.Transient("malformed_response", $"HTTP {(int)response.StatusCode} with a body that is not JSON")
                : withoutBody();
        }

        using (doc)
        {
            return read(doc.RootElement);
        }
    }

    /// <summary>Retry-After as delta-seconds or HTTP date, when the provider sent one.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta && delta >= TimeSpan.Zero)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    public static string Status(HttpResponseMessage response) =>
        ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
}

/// <summary>Typed reads of one field of a provider's JSON answer: the value, or null when the element is not an
/// object, the field is missing, or it has another type.</summary>
internal static class ProviderJson
{
    public static int? Int32(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var p)
        && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out var value) ? value : null;

    public static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String
            ? p.GetString()
            : null;
}
