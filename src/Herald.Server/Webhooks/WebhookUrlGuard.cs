using System.Net;
using System.Net.Sockets;
using Herald.Ingest;

namespace Herald.Server.Webhooks;

/// <summary>
/// What a webhook URL may be: absolute https (http only when allowed), no credentials in it, and, unless private
/// addresses are allowed, no loopback, private, link-local or unspecified target — checked on save for literal
/// addresses and again on every connection for what DNS returns, so a name cannot be re-pointed inside.
/// </summary>
public static class WebhookUrlGuard
{
    public static InputError? Check(string? url, WebhookOptions options, string pointer = "/url")
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return new InputError(pointer, "Required: an absolute URL.");
        }

        if (uri.Scheme != Uri.UriSchemeHttps && !(options.AllowInsecureUrls && uri.Scheme == Uri.UriSchemeHttp))
        {
            return new InputError(pointer, options.AllowInsecureUrls ? "Must be an http or https URL." : "Must be an https URL.");
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return new InputError(pointer, "Must not contain credentials.");
        }

        if (url.Length > 2048)
        {
            return new InputError(pointer, "At most 2048 characters.");
        }

        if (!options.AllowPrivateAddresses && IPAddress.TryParse(uri.IdnHost, out var literal) && IsPrivate(literal))
        {
            return new InputError(pointer, "Must not point at a loopback, private or link-local address.");
        }

        return !options.AllowPrivateAddresses && uri.IdnHost.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            ? new InputError(pointer, "Must not point at a loopback, private or link-local address.")
            : null;
    }

    public static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast;
        }

        var b = address.GetAddressBytes();
        return b[0] == 10
            || (b[0] == 172 && b[1] is >= 16 and <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] is >= 64 and <= 127)
            || b[0] == 0
            || b[0] >= 224;
    }

    /// <summary>A connect callback for SocketsHttpHandler that refuses private targets after DNS resolution.</summary>
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> ConnectCallback(WebhookOptions options) =>
        async (context, ct) =>
        {
            var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, ct).ConfigureAwait(false);
            if (!options.AllowPrivateAddresses)
            {
                addresses = [.. addresses.Where(a => !IsPrivate(a))];
            }

            if (addresses.Length == 0)
            {
                throw new HttpRequestException($"The webhook host {context.DnsEndPoint.Host} resolves to no address Herald may call.");
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, ct).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
}
