using System.Globalization;
using System.Net.Http.Headers;

namespace Herald.Channels;

/// <summary>Names of the HttpClients the connectors use (IHttpClientFactory).</summary>
public static class ChannelHttpClients
{
    public const string WhatsApp = "herald.whatsapp-cloud";
    public const string Telegram = "herald.telegram-bot";
}

internal static class ConnectorHttp
{
    internal static readonly MediaTypeHeaderValue Json = new("application/json") { CharSet = "utf-8" };

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
