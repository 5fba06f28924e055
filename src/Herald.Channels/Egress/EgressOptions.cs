using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Herald.Channels.Egress;

/// <summary>The egress allow-list, bound from <c>Herald:Egress</c> and validated at start.</summary>
public sealed class EgressOptions
{
    public const string SectionName = "Herald:Egress";

    /// <summary>
    /// Destinations the operator allows although they are not public: an internal SMTP relay, an SMSC over a private
    /// link. Each entry is a host name (<c>smtp.bank.internal</c>; <c>*.bank.internal</c> for every name under it), an
    /// IP address or a CIDR range (<c>10.20.0.0/16</c>, <c>fd00::/8</c>), optionally with a port
    /// (<c>smtp.bank.internal:25</c>, <c>10.20.0.5:2775</c>, <c>[fd00::5]:25</c>, <c>10.20.0.0/16:25</c>). A name
    /// entry allows whatever that name resolves to; an address entry allows that address whatever name led to it.
    /// </summary>
    public List<string> Allow { get; set; } = [];
}

/// <summary>One allow-list entry: a host name (exact or <c>*.suffix</c>) or an address range, on one port or all.</summary>
public sealed record EgressRule(string? Host, IPNetwork? Network, int? Port)
{
    /// <summary>A rule for exactly one address and port (the embedded sandbox's own listeners).</summary>
    public static EgressRule Exactly(IPAddress address, int port) =>
        new(null, new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128), port);

    /// <summary>Parses an entry of <see cref="EgressOptions.Allow"/>; null when it is not one.</summary>
    public static EgressRule? Parse(string? entry)
    {
        var text = entry?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        int? port = null;
        string target;
        if (text[0] == '[')
        {
            // [fd00::5]:25, [fd00::/8]:25, [::1]
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return null;
            }

            target = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':' || ParsePort(rest[1..]) is not { } p)
                {
                    return null;
                }

                port = p;
            }
        }
        else if (text.Count(static c => c == ':') == 1)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (ParsePort(text[(colon + 1)..]) is not { } p)
            {
                return null;
            }

            (target, port) = (text[..colon], p);
        }
        else
        {
            target = text;   // a host, an IPv4 address or range, or an IPv6 address or range without a port
        }

        if (target.Contains('/', StringComparison.Ordinal))
        {
            return IPNetwork.TryParse(target, out var network) ? new EgressRule(null, network, port) : null;
        }

        if (EgressAddresses.Literal(target) is { } address)
        {
            return new EgressRule(null, new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128), port);
        }

        var host = NormalizeHost(target);
        var name = host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
        return name.Length > 0 && Uri.CheckHostName(name) == UriHostNameType.Dns ? new EgressRule(host, null, port) : null;
    }

    /// <summary>Lower case, without trailing dots: the form rules and destinations are compared in.</summary>
    public static string NormalizeHost(string host) => host.Trim().TrimEnd('.').ToLowerInvariant();

    /// <summary>Whether the rule allows connecting to <paramref name="address"/>:<paramref name="port"/>, reached
    /// through the name <paramref name="host"/> (normalized; the address itself when none).</summary>
    public bool Allows(string host, IPAddress address, int port)
    {
        if (Port is { } p && p != port)
        {
            return false;
        }

        if (Network is { } network)
        {
            return network.Contains(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
        }

        return Host!.StartsWith("*.", StringComparison.Ordinal)
            ? host.EndsWith(Host[1..], StringComparison.Ordinal)
            : string.Equals(host, Host, StringComparison.Ordinal);
    }

    /// <summary>Whether the rule allows the name <paramref name="host"/> (normalized) on <paramref name="port"/>
    /// before it is resolved: only name rules can.</summary>
    public bool AllowsName(string host, int port) =>
        Host is not null && (Port is null || Port == port)
        && (Host.StartsWith("*.", StringComparison.Ordinal) ? host.EndsWith(Host[1..], StringComparison.Ordinal) : string.Equals(host, Host, StringComparison.Ordinal));

    public override string ToString() =>
        (Host ?? Network!.Value.ToString()) + (Port is { } p ? ":" + p.ToString(CultureInfo.InvariantCulture) : "");

    private static int? ParsePort(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535 ? port : null;
}
