using System.Net;
using System.Net.Sockets;
using Herald.Channels.Egress;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Herald.Channels.Tests.Egress;

/// <summary>The egress guard (issue #13, item 2): the address classifier over every spelling, the save-time checks,
/// the allow-list, and the connect-time check after DNS resolution.</summary>
public sealed class EgressGuardTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static EgressGuard Guard(IEnumerable<string>? allow = null, EgressResolver? resolver = null) =>
        new(Options.Create(new EgressOptions { Allow = [.. allow ?? []] }), [], resolver ?? ((host, ct) => Dns.GetHostAddressesAsync(host, ct)),
            NullLogger<EgressGuard>.Instance);

    /// <summary>Every spelling a resolver or URL parser turns into a non-public address: refused on save.</summary>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1.")]
    [InlineData("127.1")]
    [InlineData("0x7f.1")]
    [InlineData("0x7f000001")]
    [InlineData("0X7F.0.0.1")]
    [InlineData("2130706433")]
    [InlineData("017700000001")]
    [InlineData("0177.0.0.1")]
    [InlineData("0177.1")]
    [InlineData("127.000.000.001")]
    [InlineData("::1")]
    [InlineData("[::1]")]
    [InlineData("[::]")]
    [InlineData("0.0.0.0")]
    [InlineData("0")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("[::ffff:127.0.0.1]")]
    [InlineData("::ffff:7f00:1")]
    [InlineData("::ffff:a9fe:a9fe")]
    [InlineData("::127.0.0.1")]
    [InlineData("::7f00:1")]
    [InlineData("64:ff9b::7f00:1")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    [InlineData("64:ff9b::10.0.0.1")]
    [InlineData("2002:7f00:1::")]
    [InlineData("2002:a9fe:a9fe::1")]
    [InlineData("2001:0:4136:e378:8000:63bf:3fff:fdd2")]   // Teredo
    [InlineData("169.254.169.254")]
    [InlineData("0xa9.0xfe.0xa9.0xfe")]
    [InlineData("2852039166")]                             // 169.254.169.254 as one number
    [InlineData("169.254.0.1")]
    [InlineData("fe80::1")]
    [InlineData("fe80::1%1")]
    [InlineData("10.0.0.1")]
    [InlineData("10.255.255.255")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.254")]
    [InlineData("192.168.1.1")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.254")]
    [InlineData("fd00::1")]
    [InlineData("fc00::1")]
    [InlineData("fec0::1")]
    [InlineData("224.0.0.1")]
    [InlineData("239.255.255.250")]
    [InlineData("ff02::1")]
    [InlineData("240.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("192.0.0.8")]
    [InlineData("192.0.2.1")]
    [InlineData("198.51.100.1")]
    [InlineData("203.0.113.1")]
    [InlineData("198.18.0.1")]
    [InlineData("198.19.255.254")]
    [InlineData("2001:db8::1")]
    [InlineData("3fff::1")]
    [InlineData("100::1")]
    [InlineData("localhost")]
    [InlineData("localhost.")]
    [InlineData("LOCALHOST")]
    [InlineData("api.localhost")]
    [InlineData("api.localhost..")]
    [InlineData("ip6-localhost")]
    public void CheckHost_NonPublicInAnySpelling_IsRefused(string host)
    {
        Assert.NotNull(Guard().CheckHost(host, 443));
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("93.184.216.34")]
    [InlineData("172.32.0.1")]             // just outside 172.16/12
    [InlineData("100.128.0.1")]            // just outside 100.64/10
    [InlineData("169.253.255.255")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("[2a00:1450:4001:80b::200e]")]
    [InlineData("::ffff:8.8.8.8")]          // a mapped public address reaches that public address
    [InlineData("64:ff9b::808:808")]        // NAT64 of a public address
    [InlineData("2002:808:808::1")]         // 6to4 of a public address
    [InlineData("graph.facebook.com")]
    [InlineData("api.telegram.org.")]
    [InlineData("smtp.bank.example")]
    public void CheckHost_PublicAddressOrName_IsAccepted(string host)
    {
        Assert.Null(Guard().CheckHost(host, 443));
    }

    [Theory]
    [InlineData("2130706433", "127.0.0.1")]
    [InlineData("017700000001", "127.0.0.1")]
    [InlineData("0x7f.1", "127.0.0.1")]
    [InlineData("127.1", "127.0.0.1")]
    [InlineData("10.1", "10.0.0.1")]
    [InlineData("192.168.257", "192.168.1.1")]
    [InlineData("1.2.3.4.", "1.2.3.4")]
    [InlineData("[::ffff:7f00:1]", "::ffff:127.0.0.1")]
    public void Literal_ReadsEveryIPv4Spelling(string host, string expected)
    {
        Assert.Equal(IPAddress.Parse(expected), EgressAddresses.Literal(host));
    }

    [Theory]
    [InlineData("graph.facebook.com")]
    [InlineData("1.2.3.4.5")]
    [InlineData("256.1.1.1")]
    [InlineData("08.1.1.1")]            // 8 is no octal digit: getaddrinfo refuses it as an address
    [InlineData("1e100.net")]
    [InlineData("4294967296")]          // above 32 bits
    public void Literal_NamesAndImpossibleNumbers_AreNoAddress(string host)
    {
        Assert.Null(EgressAddresses.Literal(host));
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080/sandbox")]
    [InlineData("http://2130706433/")]
    [InlineData("http://0x7f.1/")]
    [InlineData("http://017700000001/")]
    [InlineData("http://[::ffff:127.0.0.1]/")]
    [InlineData("http://[::ffff:7f00:1]/")]
    [InlineData("http://[64:ff9b::7f00:1]/")]
    [InlineData("http://localhost./")]
    [InlineData("http://metadata.localhost/")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("https://graph.facebook.com/v21.0/x?")]      // a '?' would let the base URL pick the path
    [InlineData("https://graph.facebook.com/#")]
    [InlineData("https://user:pw@graph.facebook.com")]
    [InlineData("ftp://graph.facebook.com")]
    [InlineData("file:///etc/passwd")]
    [InlineData("not a url")]
    public void CheckUrl_InternalOrPathChoosingUrl_IsRefused(string url)
    {
        Assert.NotNull(Guard().CheckUrl(url));
    }

    [Fact]
    public void CheckUrl_WebhookQuery_IsTheTenantsBusiness()
    {
        Assert.Null(Guard().CheckUrl("https://bank.example/hook?token=abc", allowQuery: true));
        Assert.NotNull(Guard().CheckUrl("https://127.0.0.1/hook?token=abc", allowQuery: true));
    }

    [Theory]
    [InlineData("10.20.0.5", "10.20.0.5", 25, true)]
    [InlineData("10.20.0.5:25", "10.20.0.5", 25, true)]
    [InlineData("10.20.0.5:25", "10.20.0.5", 26, false)]
    [InlineData("10.20.0.0/16", "10.20.3.4", 2775, true)]
    [InlineData("10.20.0.0/16:25", "10.20.3.4", 25, true)]
    [InlineData("10.20.0.0/16:25", "10.21.3.4", 25, false)]
    [InlineData("[fd00::5]:25", "fd00::5", 25, true)]
    [InlineData("fd00::/8", "fd12::1", 25, true)]
    [InlineData("127.0.0.1", "2130706433", 2525, true)]        // the same address in another spelling
    [InlineData("10.20.0.5", "169.254.169.254", 80, false)]
    [InlineData("localhost:2525", "localhost", 2525, true)]
    [InlineData("localhost:2525", "localhost", 2526, false)]
    public void CheckHost_AllowList_LetsExactlyWhatItNames(string entry, string host, int port, bool allowed)
    {
        Assert.Equal(allowed, Guard([entry]).CheckHost(host, port) is null);
    }

    /// <summary>A name entry allows what that name resolves to (an internal relay), on its port; names are judged
    /// when connecting, after resolution. The test's resolver points every name at the loopback listener.</summary>
    [Theory]
    [InlineData("smtp.bank.internal:{port}", "smtp.bank.internal", true)]
    [InlineData("smtp.bank.internal:{port}", "SMTP.Bank.Internal.", true)]
    [InlineData("smtp.bank.internal:1", "smtp.bank.internal", false)]
    [InlineData("*.bank.internal", "relay.bank.internal", true)]
    [InlineData("*.bank.internal", "bank.internal.evil.example", false)]
    [InlineData("smtp.bank.internal", "other.bank.internal", false)]
    public async Task ConnectAsync_NameEntry_AllowsWhatThatNameResolvesTo(string entry, string host, bool allowed)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        EgressResolver everythingHere = (_, _) => Task.FromResult<IPAddress[]>([IPAddress.Loopback]);
        var guard = Guard([entry.Replace("{port}", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)], everythingHere);

        if (allowed)
        {
            using var socket = await guard.ConnectAsync(host, port, Ct);
            Assert.True(socket.Connected);
        }
        else
        {
            await Assert.ThrowsAsync<EgressRefusedException>(() => guard.ConnectAsync(host, port, Ct));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a host!")]
    [InlineData("10.0.0.0/33")]
    [InlineData("smtp.bank.internal:0")]
    [InlineData("smtp.bank.internal:70000")]
    [InlineData("[fd00::5")]
    public void Rules_InvalidEntry_FailsAtStart(string entry)
    {
        Assert.Null(EgressRule.Parse(entry));
        Assert.Throws<FormatException>(() => EgressGuard.Rules(new EgressOptions { Allow = [entry] }));
    }

    /// <summary>Connect time: a name that resolves to loopback (here the real resolver's <c>localhost</c>) is refused
    /// after resolution although something listens there; the operator's allowance lets exactly that port through.</summary>
    [Fact]
    public async Task ConnectAsync_NameResolvingToLoopback_IsRefusedUnlessAllowed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        await Assert.ThrowsAsync<EgressRefusedException>(() => Guard().ConnectAsync("localhost", port, Ct));
        await Assert.ThrowsAsync<EgressRefusedException>(() => Guard().ConnectAsync("127.0.0.1", port, Ct));
        await Assert.ThrowsAsync<EgressRefusedException>(() => Guard().ConnectAsync("2130706433", port, Ct));
        await Assert.ThrowsAsync<EgressRefusedException>(() => Guard(["127.0.0.1:1"]).ConnectAsync("localhost", port, Ct));

        using var socket = await Guard([$"127.0.0.1:{port}"]).ConnectAsync("localhost", port, Ct);
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)socket.RemoteEndPoint!).Address.MapToIPv4());
    }

    /// <summary>DNS rebinding: a public-looking name that resolves to an internal address when Herald connects gets
    /// nowhere; only addresses the guard checked are connected to (mixed answers keep the public ones).</summary>
    [Fact]
    public async Task ConnectAsync_NameRebindingToInternalAddresses_IsRefused()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        EgressResolver rebinding = (host, _) => Task.FromResult<IPAddress[]>(
            host == "api.provider.example" ? [IPAddress.Loopback, IPAddress.Parse("169.254.169.254"), IPAddress.Parse("::ffff:10.0.0.1")] : []);

        var refused = await Assert.ThrowsAsync<EgressRefusedException>(() => Guard(resolver: rebinding).ConnectAsync("api.provider.example", port, Ct));
        Assert.DoesNotContain("127.0.0.1", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<EgressRefusedException>(() => Guard(resolver: rebinding).ConnectAsync("unknown.example", port, Ct));
        Assert.Null(Guard(resolver: rebinding).CheckHost("api.provider.example", port));   // save time cannot know

        using var socket = await Guard(["api.provider.example"], rebinding).ConnectAsync("api.provider.example", port, Ct);
        Assert.True(socket.Connected);
    }

    [Fact]
    public async Task WithLoopback_AllowsLoopbackButNeverPrivateOrMetadata()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var guard = Guard().WithLoopback();

        Assert.Null(guard.CheckUrl("http://localhost:9000/hook"));
        Assert.Null(guard.CheckUrl("http://127.0.0.1:9000/hook"));
        Assert.NotNull(guard.CheckUrl("http://169.254.169.254/latest"));
        Assert.NotNull(guard.CheckUrl("http://10.0.0.1/hook"));
        Assert.NotNull(guard.CheckUrl("http://[fd00::1]/hook"));
        using var socket = await guard.ConnectAsync("localhost", port, Ct);
        Assert.True(socket.Connected);
    }

    [Fact]
    public void Handler_UsesNoProxyAndFollowsNoRedirect()
    {
        using var handler = Guard().Handler();

        Assert.False(handler.UseProxy);
        Assert.False(handler.AllowAutoRedirect);
        Assert.NotNull(handler.ConnectCallback);
    }
}
