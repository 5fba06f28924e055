using Herald.Core.Notifications;
using Herald.Core.Templates;

namespace Herald.Core.Tests.Templates;

/// <summary>A digest's sent message exposes <c>data.digest</c> as the top-level <c>digest</c> too (issue #4), and only
/// a digest does: a bank's own <c>data.digest</c> field stays where it is.</summary>
public sealed class DigestModelTests
{
    private readonly TemplateRenderer _renderer = new();
    private const string Data = """{"balance": 105, "digest": {"count": 5, "items": ["a", "b", "c", "d", "e"]}}""";

    private static MessageTemplate Make(string body) =>
        new(Guid.NewGuid(), Guid.NewGuid(), "balance.update", Channel.Sms, null, null, body, null, 1, default, default);

    [Fact]
    public void Digest_IsTopLevel_AndUnderData()
    {
        var text = _renderer.Render(Make("{{ digest.count }} updates ({{ digest.items | size }}), also {{ data.digest.count }}; balance {{ data.balance }}"),
            "balance.update", Data, new RenderContext(null, null, null) { Digest = true }).Text;

        Assert.Equal("5 updates (5), also 5; balance 105", text);
    }

    [Fact]
    public void NotADigest_HasNoTopLevelDigest()
    {
        var text = _renderer.Render(Make("[{{ digest.count }}] {{ data.digest.count }}"), "balance.update", Data, new RenderContext(null, null, null)).Text;

        Assert.Equal("[] 5", text);
    }
}
