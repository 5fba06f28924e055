using System.Diagnostics;
using System.Text.RegularExpressions;
using OpenTelemetry;

namespace Herald.Server.Observability;

/// <summary>
/// Takes secrets and personal data out of the HTTP spans' URLs before they are exported: a Telegram bot token is part
/// of the Bot API's path (<c>/bot{token}/sendMessage</c>), and query strings (a bank's webhook URL, a callback) may
/// carry tokens. Paths keep their shape with the secret segment replaced; queries are dropped. Herald's own spans
/// carry ids only (<see cref="Core.Observability.HeraldTraces"/>).
/// </summary>
internal sealed partial class TraceScrubber : BaseProcessor<Activity>
{
    public const string Redacted = "{redacted}";

    // The tags the HTTP server and client instrumentations (and .NET's own HTTP activities) put URLs in.
    private static readonly string[] UrlTags = ["url.full", "url.path", "url.query", "http.url", "http.target"];

    public override void OnEnd(Activity data)
    {
        foreach (var tag in UrlTags)
        {
            if (data.GetTagItem(tag) is string value)
            {
                data.SetTag(tag, tag == "url.query" ? null : Scrub(value));
            }
        }
    }

    /// <summary>The URL (or path) without its query and with secret path segments replaced.</summary>
    public static string Scrub(string url)
    {
        var query = url.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? url : url[..query];
        return BotToken().Replace(path, "/bot" + Redacted);
    }

    /// <summary>Telegram's <c>/bot{id}:{secret}</c> path segment.</summary>
    [GeneratedRegex(@"/bot[0-9]+:[^/]+", RegexOptions.CultureInvariant)]
    private static partial Regex BotToken();
}
