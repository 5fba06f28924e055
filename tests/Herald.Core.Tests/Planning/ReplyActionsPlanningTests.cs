using Herald.Core.Notifications;
using Herald.Core.Planning;
using Herald.Core.Routing;
using Herald.Core.Rules;

namespace Herald.Core.Tests.Planning;

/// <summary>Reply choices through planning (issue #16): the plan decides WhatsApp's 20-character limit, rules give
/// choices by type, and the text rendering and matching of free-text answers.</summary>
public sealed class ReplyActionsPlanningTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 9, 0, 0, TimeSpan.Zero);
    private static readonly NotificationPlanner Planner = new(new DefaultRouter(new DefaultRouteOptions()), []);
    private static readonly Guid Tenant = Guid.Parse("0193a6c4-0000-7000-8000-000000000002");

    private static readonly CompiledRuleSet FraudRules = CompiledRuleSet.Compile("""
        {"rules": [
          {"name": "fraud-choices", "when": "type == 'fraud.alert'", "then": {"actions": [{"id": "confirm", "title": "Yes, it was me"}, {"id": "block", "title": "No, block my card"}]}},
          {"name": "later", "when": "type == 'fraud.alert'", "then": {"actions": [{"id": "other", "title": "Other"}], "tags": ["x"]}}
        ]}
        """, 1);

    private static NewNotification Request(IReadOnlyList<Channel>? channels, params NotificationAction[] actions) =>
        new(Tenant, null, "fraud.alert", null, new Contacts(Phone: "+4915112345678"), "{}", null, channels, null, null, null) { Actions = actions };

    [Fact]
    public void Plan_TitleOverTwenty_WithWhatsAppInThePlan_IsRefusedAtThatTitle()
    {
        var plan = Planner.Plan(Guid.Empty, Request(null, new NotificationAction("ok", "OK"), new NotificationAction("block", "No, block my card now")), null, null, Now);

        Assert.Null(plan.Prepared);
        Assert.Equal("/actions/1/title", plan.Error!.Pointer);
        Assert.Contains("20", plan.Error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_TitleOverTwenty_WithoutWhatsApp_IsTaken()
    {
        var plan = Planner.Plan(Guid.Empty, Request([Channel.Sms], new NotificationAction("block", "No, block my card now")), null, null, Now);

        Assert.Null(plan.Error);
        Assert.Equal("No, block my card now", Assert.Single(plan.Prepared!.Request.Actions).Title);
    }

    [Fact]
    public void Plan_NoOwnActions_FirstMatchingRuleGivesThem()
    {
        var plan = Planner.Plan(Guid.Empty, Request(null), null, FraudRules, Now);

        Assert.Equal(["confirm", "block"], plan.Prepared!.Request.Actions.Select(a => a.Id));
        var (explained, evaluation) = Planner.Explain(Request(null), null, FraudRules, Now);
        Assert.Equal(plan.Prepared.Request.Actions, explained.Prepared!.Request.Actions);
        Assert.Equal("fraud-choices", evaluation!.Decision.DecidedBy["actions"]);
    }

    [Fact]
    public void Plan_OwnActions_WinOverTheRules()
    {
        var plan = Planner.Plan(Guid.Empty, Request(null, new NotificationAction("mine", "Mine")), null, FraudRules, Now);

        Assert.Equal("mine", Assert.Single(plan.Prepared!.Request.Actions).Id);
    }

    [Theory]
    [InlineData("""{"actions": [{"id": "A", "title": "x"}]}""", "/rules/0/then/actions/0/id")]
    [InlineData("""{"actions": [{"id": "a", "title": "x"}, {"id": "a", "title": "y"}]}""", "/rules/0/then/actions/1/id")]
    [InlineData("""{"actions": [{"id": "a", "title": "x", "extra": 1}]}""", "/rules/0/then/actions/0")]
    [InlineData("""{"actions": {"id": "a"}}""", "/rules/0/then/actions")]
    public void RuleActions_Invalid_AreLocatedErrors(string then, string pointer)
    {
        var compiled = CompiledRuleSet.TryCompile("""{"rules": [{"name": "r", "then": """ + then + "}]}", 1, out _, out var errors);

        Assert.False(compiled);
        Assert.Contains(errors, e => e.Field == pointer);
    }

    [Theory]
    [InlineData(null, "Was this you?\n\nReply 1 for Yes, 2 for No.")]
    [InlineData("de-DE", "Was this you?\n\nAntworten Sie 1 für Yes, 2 für No.")]
    public void TextFooter_IsPerLanguage(string? language, string expected)
    {
        Assert.Equal(expected, "Was this you?\n\n" + ReplyActions.TextFooter([new("yes", "Yes"), new("no", "No")], language));
    }

    [Theory]
    [InlineData("1", "confirm")]
    [InlineData(" 2. ", "block")]
    [InlineData("BLOCK", "block")]
    [InlineData("yes, it was me!", "confirm")]
    [InlineData("3", null)]
    [InlineData("maybe", null)]
    public void Match_FreeTextAnswer_NamesTheChoice(string text, string? expected)
    {
        NotificationAction[] actions = [new("confirm", "Yes, it was me"), new("block", "No, block my card")];

        Assert.Equal(expected, ReplyActions.Match(actions, text)?.Id);
    }
}
