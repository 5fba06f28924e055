using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

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

    public static string Describe(Exception e) =>
        e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
}
