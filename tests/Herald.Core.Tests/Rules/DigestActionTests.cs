using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Core.Rules;
using static Herald.Core.Tests.Rules.RuleTestData;

namespace Herald.Core.Tests.Rules;

/// <summary>The <c>digest</c> and <c>throttle</c> rule actions (issue #4 item 7): reading, located errors, and the
/// decision ingest takes from them.</summary>
public sealed class DigestActionTests
{
    private static readonly DefaultRouter Fallback = new(new DefaultRouteOptions());

    private const string Json = """
        {"rules": [
          {"name": "balance-digest", "when": "type == 'balance.update'", "then": {"priority": "low", "digest": {"window": "10m", "key": "data.account"}}},
          {"name": "news-throttle", "when": "type == 'service.news'", "then": {"throttle": {"max": 3, "per": "1h"}}},
          {"name": "escalate", "when": "type == 'balance.update' and data.amount > 1000", "then": {"tags": ["big"]}},
          {"name": "critical-digest", "when": "type == 'fraud.alert'", "then": {"digest": {"window": "5m"}, "throttle": {"max": 1, "per": "1m"}}}
        ]}
        """;

    private static readonly CompiledRuleSet Set = CompiledRuleSet.Compile(Json, 1);

    [Fact]
    public void DigestAndThrottle_AreRead()
    {
        var then = Set.Definition.Rules[0].Then;
        Assert.Equal(new DigestPolicy(TimeSpan.FromMinutes(10), "data.account"), then.Digest);
        Assert.Equal(new ThrottlePolicy(3, TimeSpan.FromHours(1)), Set.Definition.Rules[1].Then.Throttle);
        Assert.Null(CompiledRuleSet.Compile("""{"rules": [{"name": "d", "then": {"digest": {"window": "1m", "key": "customer"}}}]}""", 1)
            .Definition.Rules[0].Then.Digest!.Key);
    }

    [Fact]
    public void DecideAll_CarriesTheDigest_AndAgreesWithEvaluate()
    {
        var context = Context(type: "balance.update", data: """{"account": "A1", "amount": 5}""");

        var outcome = Set.DecideAll(context, Fallback);
        var evaluation = Set.Evaluate(context, Fallback);

        Assert.Equal(new DigestPolicy(TimeSpan.FromMinutes(10), "data.account"), outcome.Digest);
        Assert.Null(outcome.Throttle);
        Assert.Equal(outcome.Digest, evaluation.Decision.Digest);
        Assert.Equal("balance-digest", evaluation.Decision.DecidedBy["digest"]);
    }

    [Fact]
    public void ThrottleKey_IsReadLikeADigestKey()
    {
        var keyed = CompiledRuleSet.Compile(
            """{"rules": [{"name": "t", "then": {"throttle": {"max": 2, "per": "30m", "key": "data.account.id"}}}, {"name": "c", "then": {"throttle": {"max": 1, "per": "1d", "key": "customer"}}}]}""", 1);

        Assert.Equal(new ThrottlePolicy(2, TimeSpan.FromMinutes(30), "data.account.id"), keyed.Definition.Rules[0].Then.Throttle);
        Assert.Equal(new ThrottlePolicy(1, TimeSpan.FromDays(1)), keyed.Definition.Rules[1].Then.Throttle);
    }

    [Fact]
    public void DecideAll_CarriesTheThrottle()
    {
        var outcome = Set.DecideAll(Context(type: "service.news", data: "{}"), Fallback);

        Assert.Equal(new ThrottlePolicy(3, TimeSpan.FromHours(1)), outcome.Throttle);
        Assert.Null(outcome.Digest);
    }

    [Fact]
    public void CriticalPriority_NeverDigestsNorThrottles()
    {
        var context = Context(type: "fraud.alert", data: "{}");

        var outcome = Set.DecideAll(context, Fallback);
        var evaluation = Set.Evaluate(context, Fallback);

        Assert.Equal(Priority.Critical, outcome.Route.Priority);
        Assert.Null(outcome.Digest);
        Assert.Null(outcome.Throttle);
        Assert.Null(evaluation.Decision.Digest);
    }

    [Fact]
    public void TypesWithoutDigestRules_DecideNone()
    {
        var outcome = Set.DecideAll(Context(type: "card.transaction", data: "{}"), Fallback);

        Assert.Null(outcome.Digest);
        Assert.Null(outcome.Throttle);
    }

    [Fact]
    public void DigestAfterAFullyDecidingRule_IsStillFound()
    {
        // The first rule decides every route action, so the route-only path would stop there; the digest must not be lost.
        var set = CompiledRuleSet.Compile("""
            {"rules": [
              {"name": "all", "then": {"priority": "low", "channels": ["sms"], "ttl": "1h", "quietHours": "wait", "costPolicy": "cheapest", "suppress": false, "delay": "0s"}},
              {"name": "digest", "when": "type == 'balance.update'", "then": {"digest": {"window": "2m"}}}
            ]}
            """, 1);

        var outcome = set.DecideAll(Context(type: "balance.update", data: "{}"), Fallback);

        Assert.Equal(new DigestPolicy(TimeSpan.FromMinutes(2)), outcome.Digest);
    }

    [Theory]
    [InlineData("""{"digest": "10m"}""", "/rules/0/then/digest", "must be an object")]
    [InlineData("""{"digest": {}}""", "/rules/0/then/digest/window", "Required")]
    [InlineData("""{"digest": {"window": "0s"}}""", "/rules/0/then/digest/window", "positive duration")]
    [InlineData("""{"digest": {"window": "2d"}}""", "/rules/0/then/digest/window", "at most 1d")]
    [InlineData("""{"digest": {"window": "1m", "key": "account"}}""", "/rules/0/then/digest/key", "data path")]
    [InlineData("""{"digest": {"window": "1m", "size": 3}}""", "/rules/0/then/digest/size", "Unknown field 'size'")]
    [InlineData("""{"throttle": {"max": 0, "per": "1h"}}""", "/rules/0/then/throttle/max", "from 1 to")]
    [InlineData("""{"throttle": {"max": 2.5, "per": "1h"}}""", "/rules/0/then/throttle/max", "whole number")]
    [InlineData("""{"throttle": {"max": 3}}""", "/rules/0/then/throttle/per", "Required")]
    [InlineData("""{"throttle": {"per": "1h"}}""", "/rules/0/then/throttle/max", "Required")]
    [InlineData("""{"throttle": {"max": 3, "per": "soon"}}""", "/rules/0/then/throttle/per", "duration")]
    [InlineData("""{"throttle": [3, "1h"]}""", "/rules/0/then/throttle", "must be an object")]
    [InlineData("""{"throttle": {"max": 3, "per": "2d"}}""", "/rules/0/then/throttle/per", "at most 1d")]
    [InlineData("""{"throttle": {"max": 3, "per": "1h", "key": "account"}}""", "/rules/0/then/throttle/key", "data path")]
    [InlineData("""{"throttle": {"max": 3, "per": "1h", "burst": 1}}""", "/rules/0/then/throttle/burst", "Unknown field 'burst'")]
    public void InvalidDigestOrThrottle_IsALocatedError(string then, string field, string message)
    {
        var errors = RuleSetValidator.Validate($$"""{"rules": [{"name": "r", "then": {{then}}}]}""");

        var error = Assert.Single(errors);
        Assert.Equal(field, error.Field);
        Assert.Equal(0, error.RuleIndex);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
