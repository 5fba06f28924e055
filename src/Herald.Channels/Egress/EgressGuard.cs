using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Channels.Egress;

/// <summary>Resolves a host name for the egress guard (DNS by default; a test may bring its own to play rebinding).</summary>
public delegate Task<IPAddress[]> EgressResolver(string host, CancellationToken ct);

/// <summary>Destinations allowed besides <see cref="EgressOptions.Allow"/>, known only at run time (the embedded
/// sandbox's own listeners, whose ports are picked at start).</summary>
public interface IEgressAllowance
{
    IEnumerable<EgressRule> Rules { get; }
}

/// <summary>The guard refused a destination: it is not public and nothing allows it.</summary>
public sealed class EgressRefusedException(string message) : IOException(message);

/// <summary>
/// The one gate of every connection Herald opens on a tenant's behalf: provider APIs (WhatsApp Cloud, Telegram,
/// Twilio-style SMS, FCM and its token endpoint), SMTP relays, SMSCs and the tenants' webhooks. A destination must be
/// public unicast (<see cref="EgressAddresses"/>) unless the operator allows it (<see cref="EgressOptions.Allow"/>,
/// <see cref="IEgressAllowance"/>). Checked twice: when a setting is saved (<see cref="CheckUrl"/>,
/// <see cref="CheckHost"/>: literal addresses in every spelling and names of this machine), and when connecting
/// (<see cref="ConnectAsync"/>, <see cref="ConnectCallback"/>): the name is resolved once, every address is checked,
/// and the socket connects to a checked address — so a name that is re-pointed after the save (DNS rebinding) gets
/// nowhere, and no later resolution can differ from the one that was checked.
/// </summary>
public sealed partial class EgressGuard
{
    private readonly IReadOnlyList<EgressRule> _configured;
    private readonly IEnumerable<IEgressAllowance> _allowances;
    private readonly EgressResolver _resolve;
    private readonly ILogger _logger;
    private readonly bool _allowLoopback;

    public EgressGuard(IOptions<EgressOptions> options, IEnumerable<IEgressAllowance> allowances, EgressResolver resolve, ILogger<EgressGuard> logger)
        : this(Rules(options.Value), allowances, resolve, logger, false)
    {
    }

    private EgressGuard(IReadOnlyList<EgressRule> configured, IEnumerable<IEgressAllowance> allowances, EgressResolver resolve, ILogger logger, bool allowLoopback)
    {
        _configured = configured;
        _allowances = allowances;
        _resolve = resolve;
        _logger = logger;
        _allowLoopback = allowLoopback;
    }

    /// <summary>The same guard that also lets loopback addresses through (never private, link-local or metadata
    /// ranges): for webhooks of the embedded demo, whose developer runs a receiver on the same machine.</summary>
    public EgressGuard WithLoopback() => new(_configured, _allowances, _resolve, _logger, true);

    /// <summary>The rules of <see cref="EgressOptions.Allow"/>; throws when an entry is not one (validated at start).</summary>
    public static IReadOnlyList<EgressRule> Rules(EgressOptions options) =>
        [.. options.Allow.Select(static e => EgressRule.Parse(e) ?? throw new FormatException($"Herald:Egress:Allow: '{e}' is not a host, address or CIDR range with an optional port."))];

    /// <summary>
    /// Save-time check of a URL Herald will call: absolute http(s), no credentials, and a host that is not a literal
    /// non-public address in any spelling nor a name of this machine. Null when acceptable; names are checked again
    /// with what DNS says when connecting.
    /// </summary>
    /// <param name="allowQuery">Whether the URL is called as it is (a webhook) rather than used as a base that
    /// Herald appends paths to (a provider's API), where a '?' or '#' would let the setting pick the path.</param>
    public string? CheckUrl(string? url, bool allowQuery = false)
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return "Must be an absolute http or https URL.";
        }

        if (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
        {
            return "Must be an http or https URL.";
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "Must not contain credentials.";
        }

        if (!allowQuery && (url.Contains('?', StringComparison.Ordinal) || url.Contains('#', StringComparison.Ordinal)))
        {
            // A '?' or '#' in a base URL would swallow the path Herald appends and let the URL pick any path.
            return "Must not contain a query or fragment: it is a base URL that Herald appends the API's path to.";
        }

        return CheckHost(uri.Host, uri.Port);
    }

    /// <summary>Save-time check of a host and port Herald will connect to (SMTP relay, SMSC); null when acceptable.</summary>
    public string? CheckHost(string? host, int port)
    {
        if (string.IsNullOrWhiteSpace(host))
        {
            return "Required: a host name or address.";
        }

        var normalized = EgressRule.NormalizeHost(host.Trim('[', ']'));
        if (EgressAddresses.Literal(host) is { } literal)
        {
            return Permits(normalized, literal, port) ? null : Refused(literal);
        }

        if (Uri.CheckHostName(normalized) != UriHostNameType.Dns)
        {
            return "Must be a host name or an IP address.";
        }

        if (EgressAddresses.IsLocalName(normalized) && !_allowLoopback && !AllRules().Any(r => r.AllowsName(normalized, port)))
        {
            return "Must not point at this machine (" + normalized + " is a loopback name); an operator can allow a destination with Herald:Egress:Allow.";
        }

        return null;
    }

    /// <summary>
    /// Resolves <paramref name="host"/>, keeps the addresses Herald may reach, and connects a TCP socket to one of
    /// them. Throws <see cref="EgressRefusedException"/> when none is left.
    /// </summary>
    public async Task<Socket> ConnectAsync(string host, int port, CancellationToken ct)
    {
        var addresses = await PermittedAsync(host, port, ct).ConfigureAwait(false);
        Exception? last = null;
        foreach (var permitted in addresses)
        {
            // One socket per address, of its own family: the address connected to is exactly the one checked.
            var address = permitted.IsIPv4MappedToIPv6 ? permitted.MapToIPv4() : permitted;
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), ct).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last!;
    }

    /// <summary>For <see cref="SocketsHttpHandler.ConnectCallback"/>: every HTTP connection goes through
    /// <see cref="ConnectAsync"/>.</summary>
    public async ValueTask<Stream> ConnectCallback(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(context);
        var socket = await ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, ct).ConfigureAwait(false);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>An HTTP handler for tenant egress: connects through the guard, never through a proxy from the
    /// environment (a proxy would connect for Herald, past the check), follows no redirects (a provider answering
    /// 30x to an internal address would otherwise take Herald there).</summary>
    public SocketsHttpHandler Handler() => new()
    {
        ConnectCallback = ConnectCallback,
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
    };

    private async Task<IPAddress[]> PermittedAsync(string host, int port, CancellationToken ct)
    {
        var normalized = EgressRule.NormalizeHost(host.Trim('[', ']'));
        IPAddress[] resolved;
        if (EgressAddresses.Literal(host) is { } literal)
        {
            resolved = [literal];
        }
        else
        {
            try
            {
                resolved = await _resolve(normalized, ct).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new EgressRefusedException($"{normalized} does not resolve ({e.SocketErrorCode})");
            }
        }

        var permitted = resolved.Where(a => Permits(normalized, a, port)).ToArray();
        if (permitted.Length == 0)
        {
            var reason = resolved.Length == 0 ? "it resolves to no address" : EgressAddresses.Refusal(resolved[0]) ?? "not allowed";
            LogRefused(_logger, normalized, port, reason);
            throw new EgressRefusedException($"the destination {normalized} is not allowed: {reason}");
        }

        return permitted;
    }

    private bool Permits(string host, IPAddress address, int port)
    {
        if (EgressAddresses.IsPublic(address))
        {
            return true;
        }

        if (_allowLoopback && IsLoopback(address))
        {
            return true;
        }

        foreach (var rule in AllRules())
        {
            if (rule.Allows(host, address, port))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsLoopback(IPAddress address) =>
        IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    private IEnumerable<EgressRule> AllRules() => _configured.Concat(_allowances.SelectMany(static a => a.Rules));

    private static string Refused(IPAddress address) =>
        "Must not point at " + (EgressAddresses.Refusal(address) ?? "this address")
        + "; an operator can allow a destination with Herald:Egress:Allow.";

    [LoggerMessage(EventId = 3900, Level = LogLevel.Warning, Message = "Egress to {Host}:{Port} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string host, int port, string reason);
}
