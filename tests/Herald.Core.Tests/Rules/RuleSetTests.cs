using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Core.Rules;
using Microsoft.Extensions.Time.Testing;
using static Herald.Core.Tests.Rules.RuleTestData;

namespace Herald.Core.Tests.Rules;

public sealed class RuleSetTests
{
    private static readonly DefaultRouter Fallback = new(new DefaultRouteOptions());

    private static RuleEvaluation Evaluate(string json, RuleContext context) => CompiledRuleSet.Compile(json, 7).Evaluate(context, Fallback);

    [Fact]
    public void Evaluate_FirstMatchWinsPerAction_LaterRulesFillOpenActions()
    {
        const string json = """
            {"rules": [
              {"name": "big", "when": "data.amount > 1000", "then": {"priority": "critical", "tags": ["big"]}},
              {"name": "cards", "when": "type == 'card.transaction'", "then": {"priority": "low", "ttl": "1h", "channels": [{"channel": "telegram"}, "sms"], "tags": ["cards", "big"]}},
              {"name": "never", "when": "type == 'otp'", "then": {"costPolicy": "cheapest"}},
              {"name": "all", "then": {"ttl": "5m", "costPolicy": "fastest", "template": {"sms": "short"}}}
            ]}
            """;

        var result = Evaluate(json, Context(data: """{"amount": 5000}"""));

        Assert.Equal(["big", "cards", "all"], result.MatchedRules);
        Assert.Equal(Priority.Critical, result.Route.Priority);
        Assert.Equal([Channel.Telegram, Channel.Sms], result.Route.Steps.Select(s => s.Channel));
        Assert.Equal(TimeSpan.FromHours(1), result.Decision.Ttl);
        Assert.Equal(CostPolicy.Fastest, result.Decision.CostPolicy);
        Assert.Equal(["big", "cards"], result.Decision.Tags);
        Assert.Equal("short", result.Decision.Templates[Channel.Sms]);
        Assert.Equal("big", result.Decision.DecidedBy["priority"]);
        Assert.Equal("cards", result.Decision.DecidedBy["ttl"]);
        Assert.Equal("all", result.Decision.DecidedBy["costPolicy"]);
        Assert.Equal("all", result.Decision.DecidedBy["template.sms"]);
        Assert.Equal(7, result.RuleSetVersion);
        Assert.Empty(result.Errors);
    }

    [Fact]
    public void Evaluate_Stop_EndsEvaluation()
    {
        const string json = """
            {"rules": [
              {"name": "otp", "when": "type == 'otp'", "then": {"channels": ["sms"], "quietHours": "override", "stop": true}},
              {"name": "later", "then": {"priority": "low", "quietHours": "wait"}}
            ]}
            """;

        var otp = Evaluate(json, Context(type: "otp"));
        var other = Evaluate(json, Context(type: "service.news"));

        Assert.Equal(["otp"], otp.MatchedRules);
        Assert.Equal(Priority.Critical, otp.Route.Priority);
        Assert.Equal(QuietHoursPolicy.Override, otp.Decision.QuietHours);
        Assert.Equal(["later"], other.MatchedRules);
        Assert.Equal(Priority.Low, other.Route.Priority);
    }

    [Fact]
    public void Evaluate_Suppress_FirstExplicitValueWins()
    {
        const string json = """
            {"rules": [
              {"name": "keep-fraud", "when": "type == 'fraud.alert'", "then": {"suppress": false}},
              {"name": "mute-all", "then": {"suppress": true, "delay": "10m"}}
            ]}
            """;

        Assert.False(Evaluate(json, Context(type: "fraud.alert")).Decision.Suppress);
        var news = Evaluate(json, Context(type: "service.news"));
        Assert.True(news.Decision.Suppress);
        Assert.Equal(TimeSpan.FromMinutes(10), news.Decision.Delay);
        Assert.Equal("mute-all", news.Decision.DecidedBy["suppress"]);
    }

    [Fact]
    public void Evaluate_NoRuleMatches_DefaultRoute()
    {
        const string json = """{"rules": [{"name": "otp", "when": "type == 'otp'", "then": {"priority": "low"}}]}""";
        var context = Context(type: "card.transaction", contacts: new Contacts(Phone: "+4915112345678", Email: "a@b.test"));

        var result = Evaluate(json, context);

        Assert.Empty(result.MatchedRules);
        Assert.Equal(Fallback.Decide(context.Notification).Steps, result.Route.Steps);
        Assert.Equal([Channel.WhatsApp, Channel.Sms, Channel.Email], result.Route.Steps.Select(s => s.Channel));
        Assert.Equal(Priority.High, result.Route.Priority);
        Assert.Null(result.Decision.Priority);
        Assert.Null(result.Decision.Channels);
    }

    [Fact]
    public void Evaluate_RuleChannels_DefaultsAndAddressFiltering()
    {
        const string json = """
            {"rules": [{"name": "plan", "then": {"channels": [
              {"channel": "whatsapp"}, {"channel": "telegram", "waitFor": "delivered", "timeout": "2m"}, {"channel": "sms", "timeout": "10s"}, "push"]}}]}
            """;
        var options = new DefaultRouteOptions { WhatsAppReceiptTimeout = TimeSpan.FromSeconds(45), SentTimeout = TimeSpan.FromSeconds(20) };
        var set = CompiledRuleSet.Compile(json, 1, options);

        var route = set.Evaluate(Context(contacts: new Contacts(Phone: "+4915112345678", TelegramChatId: "1")), new DefaultRouter(options)).Route;

        Assert.Equal(
            [
                new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(45)),
                new RouteStep(Channel.Telegram, WaitFor.Delivered, TimeSpan.FromMinutes(2)),
                new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(10)),
            ],
            route.Steps);
    }

    [Fact]
    public void Evaluate_PriorityPath_SeesRequestedOrTypeDefault()
    {
        const string json = """{"rules": [{"name": "crit", "when": "priority == 'critical'", "then": {"tags": ["crit"]}}]}""";

        Assert.Equal(["crit"], Evaluate(json, Context(type: "otp")).MatchedRules);
        Assert.Empty(Evaluate(json, Context(type: "otp", priority: Priority.Low)).MatchedRules);
        Assert.Equal(["crit"], Evaluate(json, Context(type: "service.news", priority: Priority.Critical)).MatchedRules);
    }

    [Fact]
    public void Evaluate_DisabledRule_IsSkipped()
    {
        const string json = """{"rules": [{"name": "off", "enabled": false, "then": {"priority": "low"}}, {"name": "on", "then": {"tags": ["x"]}}]}""";

        Assert.Equal(["on"], Evaluate(json, Context()).MatchedRules);
    }

    [Fact]
    public void Evaluate_RegexTimeout_ReportedAndOtherRulesStillApply()
    {
        const string json = """
            {"rules": [
              {"name": "hostile", "when": "matches(data.text, '(?=x)(x+x+)+y')", "then": {"priority": "low"}},
              {"name": "next", "when": "type == 'card.transaction'", "then": {"tags": ["next"]}}
            ]}
            """;
        var data = $$"""{"text": "{{new string('x', 40)}}"}""";

        var result = Evaluate(json, Context(data: data));

        var error = Assert.Single(result.Errors);
        Assert.Equal(0, error.RuleIndex);
        Assert.Equal("hostile", error.RuleName);
        Assert.Contains("was stopped", error.Message, StringComparison.Ordinal);
        Assert.Equal(["next"], result.MatchedRules);
        Assert.Equal(Priority.High, result.Route.Priority);
    }

    [Fact]
    public void RuleRouter_Decide_ReportsRuntimeErrorsAndFallsBack()
    {
        var set = CompiledRuleSet.Compile("""{"rules": [{"name": "hostile", "when": "matches(data.text, '(?=x)(x+x+)+y')", "then": {"priority": "low"}}]}""", 1);
        var errors = new List<RuleRuntimeError>();
        var router = new RuleRouter(new FixedRuleSetSource(set), Fallback, new FakeTimeProvider(Noon), errors.Add);
        var notification = Notification(data: $$"""{"text": "{{new string('x', 40)}}"}""");

        var route = router.Decide(notification);

        Assert.Equal(Fallback.Decide(notification).Priority, route.Priority);
        Assert.Equal("hostile", Assert.Single(errors).RuleName);
    }

    [Fact]
    public void RuleRouter_NoRuleSetForTenant_UsesDefaultRoute()
    {
        var router = new RuleRouter(new NoRules(), Fallback, new FakeTimeProvider(Noon));
        var notification = Notification(type: "otp");

        var route = router.Decide(notification);

        Assert.Equal(Priority.Critical, route.Priority);
        Assert.Equal(Fallback.Decide(notification).Steps, route.Steps);
    }

    [Fact]
    public void RuleRouter_Decide_UsesTimeProviderForNow()
    {
        var set = CompiledRuleSet.Compile("""{"rules": [{"name": "night", "when": "now.hour >= 22 or now.hour < 7", "then": {"priority": "low"}}]}""", 1);
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 3, 3, 23, 0, 0, TimeSpan.Zero));
        var router = new RuleRouter(new FixedRuleSetSource(set), Fallback, time);

        Assert.Equal(Priority.Low, router.Decide(Notification()).Priority);
        time.Advance(TimeSpan.FromHours(10));
        Assert.Equal(Priority.High, router.Decide(Notification()).Priority);
    }

    [Fact]
    public void RuleRouter_EvaluateDraft_DoesNotTouchCurrentSet()
    {
        var current = CompiledRuleSet.Compile("""{"rules": [{"name": "a", "then": {"priority": "low"}}]}""", 1);
        var draft = CompiledRuleSet.Compile("""{"rules": [{"name": "b", "then": {"priority": "critical"}}]}""", 2);
        var router = new RuleRouter(new FixedRuleSetSource(current), Fallback, new FakeTimeProvider(Noon));

        Assert.Equal(2, router.Evaluate(Context(), draft).RuleSetVersion);
        Assert.Equal(Priority.Critical, router.Evaluate(Context(), draft).Route.Priority);
        Assert.Equal(Priority.Low, router.Decide(Notification()).Priority);
    }

    [Fact]
    public void DecideAndEvaluate_AgreeOnTheRoute()
    {
        var set = CompiledRuleSet.Compile(File.ReadAllText(FixturePath("hundred-rules.json")), 1);
        foreach (var context in HundredRuleFixture.Contexts())
        {
            var evaluated = set.Evaluate(context, Fallback).Route;
            var decided = set.Decide(context, Fallback);

            Assert.Equal(evaluated.Priority, decided.Priority);
            Assert.Equal(evaluated.Steps, decided.Steps);
        }
    }

    private sealed class NoRules : IRuleSetSource
    {
        public CompiledRuleSet? For(Guid tenantId) => null;
    }
}
