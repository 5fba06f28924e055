using Herald.Channels.Egress;
using Herald.Ingest;

namespace Herald.Server.Webhooks;

/// <summary>
/// What a webhook URL may be: absolute https (http only when allowed), no credentials in it, at most 2048
/// characters, and a destination the <see cref="EgressGuard"/> allows — the one guard of every tenant-driven
/// connection, checked here on save for literal addresses in every spelling and names of this machine, and again on
/// every connection for what DNS returns (<see cref="WebhookDispatcher"/> connects through it).
/// </summary>
public static class WebhookUrlGuard
{
    public static InputError? Check(string? url, WebhookOptions options, EgressGuard egress, string pointer = "/url")
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(egress);
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return new InputError(pointer, "Required: an absolute URL.");
        }

        if (uri.Scheme != Uri.UriSchemeHttps && !(options.AllowInsecureUrls && uri.Scheme == Uri.UriSchemeHttp))
        {
            return new InputError(pointer, options.AllowInsecureUrls ? "Must be an http or https URL." : "Must be an https URL.");
        }

        if (url.Length > 2048)
        {
            return new InputError(pointer, "At most 2048 characters.");
        }

        // A webhook URL is called as it is: its query is the tenant's own business.
        return Egress(egress, options).CheckUrl(url, allowQuery: true) is { } problem ? new InputError(pointer, problem) : null;
    }

    /// <summary>The guard webhooks go through: the embedded demo's may reach loopback (never private, link-local or
    /// metadata ranges).</summary>
    public static EgressGuard Egress(EgressGuard egress, WebhookOptions options)
    {
        ArgumentNullException.ThrowIfNull(egress);
        ArgumentNullException.ThrowIfNull(options);
        return options.AllowLoopback ? egress.WithLoopback() : egress;
    }
}
