using System.Net;
using System.Text.Json.Nodes;
using Herald.Server.Audit;
using Herald.Server.Sources;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Server.Tests.Audit;

/// <summary>What an audit entry keeps of a request: the client address through the trusted proxies only, and a diff
/// of the changed members with credentials redacted and personal data named but not kept.</summary>
public sealed class AuditRecorderTests
{
    [Theory]
    // A direct client: its own address; whatever X-Forwarded-For it sends is its own claim and ignored.
    [InlineData("203.0.113.9", "6.6.6.6", "203.0.113.9")]
    // Through the trusted proxy: the right-most address the proxy appended, not the one the client wrote before it.
    [InlineData("10.0.9.5", "6.6.6.6, 198.51.100.23", "198.51.100.23")]
    // Through two trusted hops (nginx, then HAProxy): the first untrusted address from the right.
    [InlineData("10.0.9.5", "6.6.6.6, 198.51.100.23, 10.0.9.7", "198.51.100.23")]
    // A trusted proxy that forwarded no client: the proxy itself.
    [InlineData("10.0.9.5", "", "10.0.9.5")]
    // Garbage in the header stops the walk: nothing left of it is believed.
    [InlineData("10.0.9.5", "198.51.100.23, not-an-ip", "10.0.9.5")]
    public void ClientAddress_BelievesForwardedForOnlyFromTrustedProxies(string peer, string forwardedFor, string expected)
    {
        var context = Context(peer, forwardedFor);

        Assert.Equal(expected, AuditRecorder.ClientAddress(context));
    }

    [Fact]
    public void Diff_Update_KeepsOnlyChangedMembers_AndRedactsCredentialsAtAnyDepth()
    {
        var before = JsonNode.Parse("""{"url": "https://a.example", "enabled": true, "settings": {"botToken": "123:abc", "from": "+1"}, "secret": "s1"}""");
        var after = JsonNode.Parse("""{"url": "https://b.example", "enabled": true, "settings": {"botToken": "456:def", "from": "+1"}, "secret": "s2"}""");

        var diff = AuditRecorder.Diff(before, after)!;

        Assert.DoesNotContain("123:abc", diff, StringComparison.Ordinal);
        Assert.DoesNotContain("456:def", diff, StringComparison.Ordinal);
        Assert.DoesNotContain("s1", diff, StringComparison.Ordinal);
        var parsed = JsonNode.Parse(diff)!;
        Assert.Equal("https://a.example", parsed["before"]!["url"]!.GetValue<string>());
        Assert.Equal("https://b.example", parsed["after"]!["url"]!.GetValue<string>());
        Assert.Null(parsed["after"]!["enabled"]);
        Assert.Equal(AuditRecorder.Redacted, parsed["after"]!["settings"]!["botToken"]!.GetValue<string>());
        Assert.Equal(AuditRecorder.Redacted, parsed["after"]!["secret"]!.GetValue<string>());
    }

    [Fact]
    public void Diff_PersonalMembers_AreNamedButNotKept()
    {
        var before = JsonNode.Parse("""{"phone": "+4915100000001", "language": "de"}""");
        var after = JsonNode.Parse("""{"phone": "+4915100000002", "language": "de"}""");
        HashSet<string> personal = ["phone"];

        var update = AuditRecorder.Diff(before, after, personal)!;
        var erase = AuditRecorder.Diff(before, null, personal)!;

        Assert.DoesNotContain("+49151", update, StringComparison.Ordinal);
        Assert.DoesNotContain("+49151", erase, StringComparison.Ordinal);
        Assert.Equal(AuditRecorder.Personal, JsonNode.Parse(update)!["after"]!["phone"]!.GetValue<string>());
        Assert.Equal("de", JsonNode.Parse(erase)!["before"]!["language"]!.GetValue<string>());
    }

    private static DefaultHttpContext Context(string peer, string forwardedFor)
    {
        var services = new ServiceCollection();
        services.Configure<SourcesOptions>(o => o.TrustedProxies = ["10.0.9.0/24"]);
        var context = new DefaultHttpContext { RequestServices = services.BuildServiceProvider() };
        context.Connection.RemoteIpAddress = IPAddress.Parse(peer);
        if (forwardedFor.Length > 0)
        {
            context.Request.Headers["X-Forwarded-For"] = forwardedFor;
        }

        return context;
    }
}
