using System.Net;
using System.Net.Sockets;

namespace Herald.Channels.Egress;

/// <summary>
/// Which IP addresses Herald may connect to on a tenant's behalf: public unicast only. Everything a tenant could use
/// to reach inside the operator's network, or that has no business as a provider's address, is refused — loopback,
/// private, shared (CGNAT), link-local (with the cloud metadata service 169.254.169.254), multicast, broadcast,
/// reserved, unspecified, documentation and benchmark ranges — and IPv6 forms that carry an IPv4 address (mapped,
/// compatible, NAT64, 6to4) are judged by the IPv4 address they carry. Pure: no DNS, no configuration.
/// </summary>
public static class EgressAddresses
{
    // RFC 6890 and its IANA registry, plus multicast, 240/4 and broadcast.
    private static readonly IPNetwork[] RefusedV4 =
    [
        IPNetwork.Parse("0.0.0.0/8"),         // "this network", unspecified
        IPNetwork.Parse("10.0.0.0/8"),        // private
        IPNetwork.Parse("100.64.0.0/10"),     // shared address space (carrier-grade NAT)
        IPNetwork.Parse("127.0.0.0/8"),       // loopback
        IPNetwork.Parse("169.254.0.0/16"),    // link-local, cloud metadata services
        IPNetwork.Parse("172.16.0.0/12"),     // private
        IPNetwork.Parse("192.0.0.0/24"),      // IETF protocol assignments
        IPNetwork.Parse("192.0.2.0/24"),      // documentation (TEST-NET-1)
        IPNetwork.Parse("192.31.196.0/24"),   // AS112
        IPNetwork.Parse("192.52.193.0/24"),   // AMT
        IPNetwork.Parse("192.88.99.0/24"),    // 6to4 relay anycast (deprecated)
        IPNetwork.Parse("192.168.0.0/16"),    // private
        IPNetwork.Parse("192.175.48.0/24"),   // direct delegation AS112
        IPNetwork.Parse("198.18.0.0/15"),     // benchmarking
        IPNetwork.Parse("198.51.100.0/24"),   // documentation (TEST-NET-2)
        IPNetwork.Parse("203.0.113.0/24"),    // documentation (TEST-NET-3)
        IPNetwork.Parse("224.0.0.0/4"),       // multicast
        IPNetwork.Parse("240.0.0.0/4"),       // reserved, and 255.255.255.255 broadcast
    ];

    // Only global unicast (2000::/3) is ever allowed for IPv6; inside it, these special-purpose blocks are not.
    private static readonly IPNetwork GlobalUnicast = IPNetwork.Parse("2000::/3");

    private static readonly IPNetwork[] RefusedV6 =
    [
        IPNetwork.Parse("2001::/23"),         // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID
        IPNetwork.Parse("2001:db8::/32"),     // documentation
        IPNetwork.Parse("3fff::/20"),         // documentation (RFC 9637)
    ];

    private static readonly IPNetwork Mapped = IPNetwork.Parse("::ffff:0:0/96");
    private static readonly IPNetwork Compatible = IPNetwork.Parse("::/96");
    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    // IPNetwork.Contains treats an IPv4-mapped address as its IPv4 address, so an IPv6 network never contains it:
    // the IPv6 checks compare prefixes on the 16 bytes themselves.
    private static bool In(IPNetwork network, IPAddress v6)
    {
        Span<byte> a = stackalloc byte[16];
        Span<byte> n = stackalloc byte[16];
        v6.TryWriteBytes(a, out _);
        network.BaseAddress.TryWriteBytes(n, out _);
        var bits = network.PrefixLength;
        var whole = bits / 8;
        if (!a[..whole].SequenceEqual(n[..whole]))
        {
            return false;
        }

        var rest = bits % 8;
        return rest == 0 || ((a[whole] ^ n[whole]) & (byte)(0xFF << (8 - rest))) == 0;
    }

    /// <summary>Why Herald must not connect to <paramref name="address"/>, or null when it is public unicast.</summary>
    public static string? Refusal(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return RefusalV4(address);
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return "not an IP address";
        }

        // A scope id (fe80::1%eth0) only exists on link-local addresses, but it never belongs in a provider address.
        if (address.ScopeId != 0)
        {
            return "a scoped (link-local) address";
        }

        if (In(Mapped, address) || In(Nat64, address))
        {
            // ::ffff:127.0.0.1 and 64:ff9b::7f00:1 reach the IPv4 address they carry (dual-stack socket, NAT64 gateway).
            return RefusalV4(Embedded(address, 12)) is { } reason ? reason + " (embedded in IPv6)" : null;
        }

        if (In(Compatible, address))
        {
            // ::, ::1, and the deprecated IPv4-compatible form ::a.b.c.d: none is a provider's address.
            return address.Equals(IPAddress.IPv6Any) ? "the unspecified address"
                : address.Equals(IPAddress.IPv6Loopback) ? "a loopback address"
                : "an IPv4-compatible IPv6 address";
        }

        if (In(SixToFour, address))
        {
            return RefusalV4(Embedded(address, 2)) is { } reason ? reason + " (embedded in a 6to4 address)" : null;
        }

        if (!In(GlobalUnicast, address))
        {
            return address.IsIPv6LinkLocal ? "a link-local address"
                : address.IsIPv6Multicast ? "a multicast address"
                : address.IsIPv6UniqueLocal ? "a private (unique local) address"
                : address.IsIPv6SiteLocal ? "a site-local address"
                : "a reserved IPv6 address";
        }

        return RefusedV6.Any(n => In(n, address)) ? "a special-purpose IPv6 address (Teredo, documentation, benchmarking)" : null;
    }

    /// <summary>Whether Herald may connect to <paramref name="address"/> without an operator's allowance.</summary>
    public static bool IsPublic(IPAddress address) => Refusal(address) is null;

    /// <summary>
    /// The IP address a URL or configuration host names literally, in every spelling a resolver or URL parser
    /// accepts: dotted, shortened (127.1), decimal (2130706433), octal (0177.0.0.1, 017700000001), hex (0x7f.1,
    /// 0x7f000001), with trailing dots, bracketed IPv6, or null when <paramref name="host"/> is a name.
    /// </summary>
    public static IPAddress? Literal(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var h = host.Trim().TrimEnd('.');
        if (h.Length > 2 && h[0] == '[' && h[^1] == ']')
        {
            h = h[1..^1];
        }

        if (h.Contains(':', StringComparison.Ordinal))
        {
            return IPAddress.TryParse(h, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6 ? v6 : null;
        }

        return ParseInetAton(h);
    }

    /// <summary>Whether <paramref name="host"/> is a name that means this machine without asking DNS (RFC 6761:
    /// localhost and every name under .localhost), in any case and with trailing dots.</summary>
    public static bool IsLocalName(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var h = host.Trim().TrimEnd('.');
        return h.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || h.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || h.Equals("localhost.localdomain", StringComparison.OrdinalIgnoreCase)
            || h.Equals("ip6-localhost", StringComparison.OrdinalIgnoreCase)
            || h.Equals("ip6-loopback", StringComparison.OrdinalIgnoreCase);
    }

    private static string? RefusalV4(IPAddress address)
    {
        foreach (var network in RefusedV4)
        {
            if (network.Contains(address))
            {
                var first = address.GetAddressBytes()[0];
                return first switch
                {
                    127 => "a loopback address",
                    0 => "an unspecified (\"this network\") address",
                    10 or 172 or 192 when IsPrivateV4(address) => "a private address",
                    169 => "a link-local address (cloud metadata)",
                    100 => "a shared (carrier-grade NAT) address",
                    >= 224 and < 240 => "a multicast address",
                    >= 240 => "a reserved or broadcast address",
                    _ => "a special-purpose address (documentation, benchmarking, protocol assignments)",
                };
            }
        }

        return null;
    }

    private static bool IsPrivateV4(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return b[0] == 10 || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168);
    }

    private static IPAddress Embedded(IPAddress v6, int offset) => new(v6.GetAddressBytes().AsSpan(offset, 4));

    /// <summary>inet_aton: one to four parts, each decimal, octal (leading 0) or hex (0x); the last part fills the
    /// remaining bytes. This is what getaddrinfo and most URL parsers accept, so it is what the guard must recognise.</summary>
    private static IPAddress? ParseInetAton(string text)
    {
        var parts = text.Split('.');
        if (parts.Length is 0 or > 4)
        {
            return null;
        }

        var values = new ulong[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (ParsePart(parts[i]) is not { } value)
            {
                return null;
            }

            values[i] = value;
        }

        for (var i = 0; i < values.Length - 1; i++)
        {
            if (values[i] > 255)
            {
                return null;
            }
        }

        var lastBytes = 4 - (values.Length - 1);
        if (values[^1] >= 1UL << (8 * lastBytes))
        {
            return null;
        }

        ulong number = values[^1];
        for (var i = 0; i < values.Length - 1; i++)
        {
            number |= values[i] << (8 * (3 - i));
        }

        return new IPAddress([(byte)(number >> 24), (byte)(number >> 16), (byte)(number >> 8), (byte)number]);
    }

    private static ulong? ParsePart(string part)
    {
        if (part.Length == 0 || part.Length > 34)
        {
            return null;
        }

        var (digits, radix) = part.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? (part[2..], 16)
            : part.Length > 1 && part[0] == '0' ? (part[1..], 8)
            : (part, 10);
        if (digits.Length == 0)
        {
            return radix == 16 ? 0UL : null;   // "0x" alone is 0 to inet_aton
        }

        ulong value = 0;
        foreach (var ch in digits)
        {
            var d = ch switch
            {
                >= '0' and <= '9' => ch - '0',
                >= 'a' and <= 'f' => ch - 'a' + 10,
                >= 'A' and <= 'F' => ch - 'A' + 10,
                _ => 99,
            };
            if (d >= radix)
            {
                return null;
            }

            value = (value * (ulong)radix) + (ulong)d;
            if (value > uint.MaxValue)
            {
                return null;
            }
        }

        return value;
    }
}
