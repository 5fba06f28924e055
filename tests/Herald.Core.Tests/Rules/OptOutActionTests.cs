using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Core.Rules;
using static Herald.Core.Tests.Rules.RuleTestData;

namespace Herald.Core.Tests.Rules;

/// <summary>The <c>optOuts</c> rule action (issue #4): per tenant, at run time, which notifications go out despite the
/// customer's opt-outs. Reading, located errors, first-match-wins, early stop, and what it does to the route.</summary>
public sealed class OptOutActionTests
{
    private static readonly DefaultRouter Fallback = new(new DefaultRouteOptions());

    private const string Json = """
        {"rules": [
          {"name": "fraud-always", "when": "type in ['fraud.alert', 'otp']", "then": {"optOuts": "ignore"}},
          {"name": "otp-honour-for-vip", "when": "type == 'otp' and customer.segment == 'vip'", "then": {"optOuts": "honour"}},
          {"name": "news", "when": "type == 'service.news'", "then": {"priority": "low"}}
        ]}
        """;

    private static readonly CompiledRuleSet Set = CompiledRuleSet.Compile(Json, 1);

    [Fact]
    public void OptOuts_IsRead()
    {
        Assert.Equal(OptOutPolicy.Ignore, Set.Definition.Rules[0].Then.OptOuts);
        Assert.Equal(OptOutPolicy.Honour, Set.Definition.Rules[1].Then.OptOuts);
        Assert.Null(Set.Definition.Rules[2].Then.OptOuts);
    }

    [Fact]
    public void DecideAll_CarriesThePolicy_AndAgreesWithEvaluate()
    {
        var context = Context(type: "fraud.alert", data: "{}");

        var outcome = Set.DecideAll(context, Fallback);
        var evaluation = Set.Evaluate(context, Fallback);

        Assert.Equal(OptOutPolicy.Ignore, outcome.OptOuts);
        Assert.Equal(OptOutPolicy.Ignore, evaluation.Decision.OptOuts);
        Assert.Equal("fraud-always", evaluation.Decision.DecidedBy["optOuts"]);
    }

    [Fact]
    public void FirstMatchingRuleDecides()
    {
        // Both rules match a VIP's OTP; the first one says ignore, so the later honour does not count.
        var context = Context(type: "otp", data: "{}", customer: new Dictionary<string, string> { ["segment"] = "vip" });

        Assert.Equal(OptOutPolicy.Ignore, Set.DecideAll(context, Fallback).OptOuts);
    }

    [Fact]
    public void HonourFirst_BeatsALaterIgnore()
    {
        var set = CompiledRuleSet.Compile("""
            {"rules": [
              {"name": "keep", "when": "customer.segment == 'minor'", "then": {"optOuts": "honour"}},
              {"name": "ignore", "when": "type == 'otp'", "then": {"optOuts": "ignore"}}
            ]}
            """, 1);

        var minor = Context(type: "otp", data: "{}", customer: new Dictionary<string, string> { ["segment"] = "minor" });
        var adult = Context(type: "otp", data: "{}", customer: new Dictionary<string, string> { ["segment"] = "adult" });

        Assert.Equal(OptOutPolicy.Honour, set.DecideAll(minor, Fallback).OptOuts);
        Assert.Equal(OptOutPolicy.Ignore, set.DecideAll(adult, Fallback).OptOuts);
    }

    [Fact]
    public void TypesWithoutAnOptOutRule_DecideNone()
    {
        var outcome = Set.DecideAll(Context(type: "service.news", data: "{}"), Fallback);

        Assert.Null(outcome.OptOuts);
        Assert.Null(Set.Evaluate(Context(type: "service.news", data: "{}"), Fallback).Decision.OptOuts);
    }

    [Fact]
    public void OptOutsAfterAFullyDecidingRule_IsStillFound()
    {
        // The first rule decides every route action, so the route-only path would stop there; the policy must not be lost.
        var set = CompiledRuleSet.Compile("""
            {"rules": [
              {"name": "all", "then": {"priority": "high", "channels": ["sms", "email"], "ttl": "1h", "quietHours": "wait", "costPolicy": "cheapest", "suppress": false, "delay": "0s"}},
              {"name": "mandatory", "when": "type == 'account.notice'", "then": {"optOuts": "ignore"}}
            ]}
            """, 1);

        Assert.Equal(OptOutPolicy.Ignore, set.DecideAll(Context(type: "account.notice", data: "{}"), Fallback).OptOuts);
    }

    [Fact]
    public void IgnoredOptOuts_KeepEveryStep_HonouredOnesDropThem()
    {
        var customer = new Customer { Id = "c-1", OptOuts = [new OptOut(Channel.Sms, null), new OptOut(null, "fraud.alert")], PreferredChannel = Channel.Email };
        var route = Set.DecideAll(Context(type: "fraud.alert", data: "{}"), Fallback).Route;

        var ignored = CustomerPreferences.Apply(route, customer, "fraud.alert", ignoreOptOuts: true);
        var honoured = CustomerPreferences.Apply(route, customer, "fraud.alert", ignoreOptOuts: false);

        Assert.Equal(route.Steps.Count, ignored.Steps.Count);
        Assert.Equal(Channel.Email, ignored.Steps[0].Channel);
        Assert.Empty(honoured.Steps);
    }

    [Theory]
    [InlineData("""{"optOuts": "skip"}""", "Unknown optOuts policy 'skip'; expected one of honour, ignore.")]
    [InlineData("""{"optOuts": true}""", "Unknown optOuts policy a true; expected one of honour, ignore.")]
    [InlineData("""{"optOuts": "Ignore"}""", "Unknown optOuts policy 'Ignore'; expected one of honour, ignore.")]
    public void InvalidOptOuts_IsALocatedError(string then, string message)
    {
        var errors = RuleSetValidator.Validate($$"""{"rules": [{"name": "r", "then": {{then}}}]}""");

        var error = Assert.Single(errors);
        Assert.Equal("/rules/0/then/optOuts", error.Field);
        Assert.Equal(0, error.RuleIndex);
        Assert.Equal(message, error.Message);
    }
}
