using System.Security.Claims;
using System.Text.Json.Nodes;
using Herald.Server.Authentication;
using Herald.Storage;

namespace Herald.Server.Tests.Authentication;

/// <summary>What a viewer key reads: contacts and secrets masked at any depth, everything else as written.</summary>
public sealed class ViewerRedactionTests
{
    [Fact]
    public void Redact_MasksContactsAndSecrets_AtAnyDepth_AndLeavesTheRest()
    {
        var node = JsonNode.Parse("""
            {"items":[{"id":"c-1","phone":"+4915112345678","email":"jane@example.com","telegramChatId":"777","pushToken":null,
                       "optOuts":[{"channel":"sms"}],"nested":{"Secret":"s3cr3t","to":["+49151"]}}],
             "next":"abc","status":"delivered"}
            """);

        ViewerRedaction.Redact(node);

        var item = node!["items"]![0]!;
        Assert.Equal("c-1", item["id"]!.GetValue<string>());
        Assert.Equal(ViewerRedaction.Mask, item["phone"]!.GetValue<string>());
        Assert.Equal(ViewerRedaction.Mask, item["email"]!.GetValue<string>());
        Assert.Equal(ViewerRedaction.Mask, item["telegramChatId"]!.GetValue<string>());
        Assert.Null(item["pushToken"]); // nothing to hide: null stays null
        Assert.Equal("sms", item["optOuts"]![0]!["channel"]!.GetValue<string>());
        Assert.Equal(ViewerRedaction.Mask, item["nested"]!["Secret"]!.GetValue<string>());
        Assert.Equal(ViewerRedaction.Mask, item["nested"]!["to"]!.GetValue<string>());
        Assert.Equal("abc", node["next"]!.GetValue<string>());
        Assert.DoesNotContain("+49", node.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Redact_MasksPhonesAndEmailsInsideOtherText_NotTimestampsOrIds()
    {
        var node = JsonNode.Parse("""
            {"attempts":[{"error":"Invalid number +4915112345678 (code 21211)","createdAt":"2026-12-07T06:48:09.395+01:00"}],
             "lastError":"550 jane.doe@example.com: mailbox unavailable","notes":["call +12025550123"],"id":"01a24f42-85b3-7b78"}
            """);

        ViewerRedaction.Redact(node);

        Assert.Equal("Invalid number [redacted] (code 21211)", node!["attempts"]![0]!["error"]!.GetValue<string>());
        Assert.Equal("2026-12-07T06:48:09.395+01:00", node["attempts"]![0]!["createdAt"]!.GetValue<string>());
        Assert.Equal("550 [redacted]: mailbox unavailable", node["lastError"]!.GetValue<string>());
        Assert.Equal("call [redacted]", node["notes"]![0]!.GetValue<string>());
        Assert.Equal("01a24f42-85b3-7b78", node["id"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(new[] { Roles.Viewer }, true)]
    [InlineData(new[] { Roles.Viewer, Roles.Read }, false)]
    [InlineData(new[] { Roles.Viewer, Roles.Admin }, false)]
    [InlineData(new[] { Roles.Read }, false)]
    [InlineData(new string[0], false)]
    public void IsViewerOnly_OnlyWhenNoOtherRoleMayReadContacts(string[] roles, bool expected)
    {
        var user = new ClaimsPrincipal(new ClaimsIdentity(roles.Select(r => new Claim(ClaimTypes.Role, r)), "test"));

        Assert.Equal(expected, ViewerRedaction.IsViewerOnly(user));
    }
}
