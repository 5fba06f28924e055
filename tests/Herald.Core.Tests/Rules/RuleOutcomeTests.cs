using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Core.Rules;
using static Herald.Core.Tests.Rules.RuleTestData;

namespace Herald.Core.Tests.Rules;

/// <summary>What ingest takes from a rule set (route members, suppress, delay, TTL, masks) and the run-time limits.</summary>
public sealed class RuleOutcomeTests
{
    private static readonly DefaultRouter Fallback = new(new DefaultRouteOptions());

    private const string Json = """
        {"rules": [
          {"name": "mute-news", "when": "type == 'service.news' and data.optOut == true", "then": {"suppress": true}},
          {"name": "cards", "when": "type == 'card.transaction'", "then": {"costPolicy": "cheapest", "quietHours": "wait", "template": {"sms": "card_short"}, "tags": ["cards"], "mask": ["data.cardNumber"]}},
          {"name": "night", "when": "type == 'service.news'", "then": {"delay": "10m", "ttl": "1h", "tags": ["news"]}},
          {"name": "all", "then": {"template": {"sms": "ignored", "email": "generic"}, "tags": ["all", "cards"], "mask": ["data.account.iban"]}}
        ]}
        """;

    private static readonly CompiledRuleSet Set = CompiledRuleSet.Compile(Json, 3);

    [Fact]
    public void Decide_FillsCostPolicyQuietHoursTemplatesAndTags()
    {
        var route = Set.Decide(Context(), Fallback);

        Assert.Equal(CostPolicy.Cheapest, route.CostPolicy);
        Assert.Equal(QuietHoursPolicy.Wait, route.QuietHours);
        Assert.Equal(new Dictionary<Channel, string> { [Channel.Sms] = "card_short", [Channel.Email] = "generic" }, route.Templates);
        Assert.Equal(["cards", "all"], route.Tags);
    }

    [Fact]
    public void Decide_NoRuleDecidesExtras_LeavesThemNull()
    {
        var set = CompiledRuleSet.Compile("""{"rules": [{"name": "p", "then": {"priority": "low"}}]}""", 1);

        var route = set.Decide(Context(), Fallback);

        Assert.Equal(Priority.Low, route.Priority);
        Assert.Null(route.CostPolicy);
        Assert.Null(route.QuietHours);
        Assert.Null(route.Templates);
        Assert.Null(route.Tags);
    }

    [Theory]
    [InlineData("card.transaction", """{"cardNumber": "4111 1111 1111 1234"}""")]
    [InlineData("service.news", """{"optOut": true}""")]
    [InlineData("service.news", "{}")]
    [InlineData("otp", "{}")]
    public void DecideAll_AgreesWithEvaluate(string type, string data)
    {
        var context = Context(type: type, data: data);

        var outcome = Set.DecideAll(context, Fallback);
        var evaluation = Set.Evaluate(context, Fallback);

        AssertSameRoute(evaluation.Route, outcome.Route);
        AssertSameRoute(evaluation.Route, Set.Decide(context, Fallback));
        Assert.Equal(evaluation.Decision.Suppress, outcome.Suppress);
        Assert.Equal(evaluation.Decision.Delay, outcome.Delay);
        Assert.Equal(evaluation.Decision.Ttl, outcome.Ttl);
        Assert.Equal(evaluation.Decision.Mask, outcome.Mask ?? []);
    }

    [Fact]
    public void DecideAll_SuppressDelayTtl_ComeFromTheDecidingRules()
    {
        var muted = Set.DecideAll(Context(type: "service.news", data: """{"optOut": true}"""), Fallback);
        var delayed = Set.DecideAll(Context(type: "service.news"), Fallback);

        Assert.True(muted.Suppress);
        Assert.False(delayed.Suppress);
        Assert.Equal(TimeSpan.FromMinutes(10), delayed.Delay);
        Assert.Equal(TimeSpan.FromHours(1), delayed.Ttl);
        Assert.Equal(["data.account.iban"], delayed.Mask);
    }

    [Fact]
    public void HundredRuleFixture_DecideMatchesEvaluate_IncludingRouteExtras()
    {
        var set = CompiledRuleSet.Compile(File.ReadAllText(FixturePath("hundred-rules.json")), 1);
        foreach (var context in HundredRuleFixture.Contexts())
        {
            AssertSameRoute(set.Evaluate(context, Fallback).Route, set.Decide(context, Fallback));
        }
    }

    [Fact]
    public void Mask_KeepsLastFourLettersOrDigitsAndSeparators()
    {
        Assert.Equal("**** **** **** 1234", DataMasking.Mask("4111 1111 1111 1234"));
        Assert.Equal("******************3000", DataMasking.Mask("DE89370400440532013000"));
        Assert.Equal("****", DataMasking.Mask("1234"));
        Assert.Equal("", DataMasking.Mask(""));
    }

    [Fact]
    public void Apply_MasksTextAndNumberFieldsAtAnyDepth_LeavesTheRest()
    {
        const string data = """{"cardNumber": "4111111111111234", "account": {"iban": "DE89370400440532013000", "no": 12345678}, "amount": 12.5, "nested": {"a": 1}}""";

        var masked = System.Text.Json.Nodes.JsonNode.Parse(
            DataMasking.Apply(data, ["data.cardNumber", "data.account.iban", "data.account.no", "data.nested", "data.missing.deeper"]))!;

        Assert.Equal("************1234", (string?)masked["cardNumber"]);
        Assert.Equal("******************3000", (string?)masked["account"]!["iban"]);
        Assert.Equal("****5678", (string?)masked["account"]!["no"]);
        Assert.Equal(12.5m, (decimal?)masked["amount"]);
        Assert.Equal(1, (int?)masked["nested"]!["a"]);
        Assert.Equal("[1,2]", DataMasking.Apply("[1,2]", ["data.x"]));
    }

    [Theory]
    [InlineData("""["cardNumber"]""", "/rules/0/then/mask/0")]
    [InlineData("""["data."]""", "/rules/0/then/mask/0")]
    [InlineData("""["data.a b"]""", "/rules/0/then/mask/0")]
    [InlineData("[]", "/rules/0/then/mask")]
    [InlineData("\"data.x\"", "/rules/0/then/mask")]
    public void Validate_BadMask_IsLocated(string mask, string field)
    {
        var errors = RuleSetValidator.Validate($$$"""{"rules": [{"name": "m", "then": {"mask": {{{mask}}}}}]}""");

        Assert.Equal(field, Assert.Single(errors).Field);
    }

    // ---- run-time limits: the rule is stopped, counted as not matched, reported; the rest keeps working ----

    [Theory]
    [InlineData("contains(data.big, 'needle')")]
    [InlineData("contains('haystack', data.big)")]
    [InlineData("startsWith(data.big, 'a')")]
    [InlineData("endsWith(data.big, 'a')")]
    [InlineData("lower(data.big) == 'a'")]
    [InlineData("upper(data.big) == 'A'")]
    public void TextFunctions_OversizedText_RuleStoppedAndReported(string condition)
    {
        var set = CompiledRuleSet.Compile($$$"""
            {"rules": [
              {"name": "greedy", "when": "{{{condition}}}", "then": {"priority": "low"}},
              {"name": "after", "then": {"tags": ["after"]}}
            ]}
            """, 1);
        var context = Context(data: $$$"""{"big": "{{{new string('a', 100_000)}}}"}""");
        var errors = new List<RuleRuntimeError>();

        var evaluation = set.Evaluate(context, Fallback);
        var route = set.Decide(context, Fallback, errors.Add);

        var error = Assert.Single(evaluation.Errors);
        Assert.Equal("greedy", error.RuleName);
        Assert.Contains("limit is 4096", error.Message, StringComparison.Ordinal);
        Assert.Equal(["after"], evaluation.MatchedRules);
        Assert.Equal(Priority.High, evaluation.Route.Priority);
        Assert.Equal("greedy", Assert.Single(errors).RuleName);
        Assert.Equal(["after"], route.Tags);
    }

    [Fact]
    public void TextFunctions_TextAtTheLimit_StillEvaluated()
    {
        var context = Context(data: $$$"""{"big": "{{{new string('a', 4_096)}}}"}""");

        Assert.True(RuleCondition.Compile("endsWith(data.big, 'a') and lower(data.big) == data.big").Evaluate(context));
    }

    [Fact]
    public void Validate_TooManyBacktrackingPatterns_RejectedWithPosition()
    {
        var rules = Enumerable.Range(0, Expressions.MaxBacktracking + 1)
            .Select(i => $$$"""{"name": "r{{{i}}}", "when": "matches(data.x, '(?=x)y{{{i}}}')", "then": {"priority": "low"}}""");

        var errors = RuleSetValidator.Validate($$$"""{"rules": [{{{string.Join(",", rules)}}}]}""");

        var error = Assert.Single(errors);
        Assert.Equal(Expressions.MaxBacktracking, error.RuleIndex);
        Assert.Equal($"/rules/{Expressions.MaxBacktracking}/when", error.Field);
        Assert.Equal(16, error.Position);
        Assert.Contains("at most 16 patterns", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NonBacktrackingPatterns_AreNotCounted()
    {
        var rules = Enumerable.Range(0, 40).Select(i => $$$"""{"name": "r{{{i}}}", "when": "matches(data.x, '^(a+)+{{{i}}}$')", "then": {"priority": "low"}}""");

        Assert.Empty(RuleSetValidator.Validate($$$"""{"rules": [{{{string.Join(",", rules)}}}]}"""));
    }

    private static class Expressions
    {
        public const int MaxBacktracking = 16;
    }

    private static void AssertSameRoute(Route expected, Route actual)
    {
        Assert.Equal(expected.Priority, actual.Priority);
        Assert.Equal(expected.Steps, actual.Steps);
        Assert.Equal(expected.CostPolicy, actual.CostPolicy);
        Assert.Equal(expected.QuietHours, actual.QuietHours);
        Assert.Equal(expected.Templates?.OrderBy(t => t.Key), actual.Templates?.OrderBy(t => t.Key));
        Assert.Equal(expected.Tags, actual.Tags);
    }
}
