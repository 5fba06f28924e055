using System.Net;
using Herald.Server.Sources;

namespace Herald.Server.Tests.Sources;

/// <summary><c>Herald:Sources:TrustedProxies</c>: the peers whose client-certificate header is believed.</summary>
public sealed class TrustedProxiesTests
{
    [Theory]
    [InlineData("10.231.9.0/24", "10.231.9.17", true)]
    [InlineData("10.231.9.0/24", "10.231.10.1", false)]
    [InlineData("127.0.0.1", "127.0.0.1", true)]
    [InlineData("127.0.0.1", "127.0.0.2", false)]
    [InlineData("::1", "::1", true)]
    [InlineData("fd00::/8", "fd12::3", true)]
    public void ParseTrustedProxies_AddressesAndRanges_MatchTheirPeers(string entry, string peer, bool trusted)
    {
        var networks = SourcesOptions.ParseTrustedProxies([entry]);

        Assert.NotNull(networks);
        Assert.Equal(trusted, networks.Any(n => n.Contains(IPAddress.Parse(peer))));
    }

    [Theory]
    [InlineData("nginx")]
    [InlineData("10.0.0.0/33")]
    [InlineData("")]
    public void ParseTrustedProxies_NotAnAddressOrRange_IsRefused(string entry) =>
        Assert.Null(SourcesOptions.ParseTrustedProxies(["127.0.0.1", entry]));
}
