using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Planning;
using Herald.Core.Routing;
using Herald.Core.Rules;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Core.Tests.Planning;

/// <summary>The notification planner (issue #15): one pure function for ingest and the rules dry run.</summary>
public sealed class NotificationPlannerTests
{
    private static readonly FakeTimeProvider Time = new(new DateTimeOffset(2026, 12, 7, 9, 0, 0, TimeSpan.Zero));
    private static readonly NotificationPlanner Planner = new(new DefaultRouter(new DefaultRouteOptions()), ["otp"]);
    private static readonly Guid Tenant = Guid.Parse("0193a6c4-0000-7000-8000-000000000001");

    private const string Rules = """
        {"rules": [
          {"name": "balance-digest", "when": "type == 'balance.update'", "then": {"priority": "low", "channels": ["whatsapp", "sms"], "digest": {"window": "10m", "key": "data.account"}, "delay": "1m"}},
          {"name": "news-throttle", "when": "type == 'service.news'", "then": {"throttle": {"max": 3, "per": "1h"}, "mask": ["data.iban"], "ttl": "2h"}},
          {"name": "premium", "when": "customer.segment == 'premium'", "then": {"tags": ["premium"]}},
          {"name": "quiet", "when": "type == 'marketing'", "then": {"suppress": true}}
        ]}
        """;

    private static readonly CompiledRuleSet Set = CompiledRuleSet.Compile(Rules, 4);

    private static NewNotification Request(string type, string data = "{}", string? customerId = null, Contacts? contacts = null, string? dedupeKey = null) =>
        new(Tenant, null, type, customerId, contacts ?? new Contacts(Phone: "+4915112345678"), data, null, null, null, null, dedupeKey);

    private static Customer Ana(params OptOut[] optOuts) => new()
    {
        Id = "ana",
        Contacts = new Contacts(Phone: "+4915199999999", TelegramChatId: "42", Email: "ana@example.test"),
        Language = "pt",
        OptOuts = optOuts,
        Attributes = new Dictionary<string, string> { ["segment"] = "premium" },
    };

    private static Channel[] Channels(Route r) => [.. r.Steps.Select(s => s.Channel)];

    [Theory]
    [InlineData("balance.update", """{"account": "A1", "balance": 5}""")]
    [InlineData("service.news", """{"iban": "DE89370400440532013000"}""")]
    [InlineData("card.transaction", "{}")]
    [InlineData("marketing", "{}")]
    public void PlanAndExplain_Agree_OnEverythingIngestStores(string type, string data)
    {
        var request = Request(type, data, "ana", Contacts.None, dedupeKey: "k-1");
        var now = Time.GetUtcNow();

        var planned = Planner.Plan(Guid.Empty, request, Ana(), Set, now);
        var (explained, evaluation) = Planner.Explain(request, Ana(), Set, now);

        Assert.NotNull(evaluation);
        Assert.Equal(planned.Digest, explained.Digest);
        var (a, b) = (planned.Prepared!, explained.Prepared!);
        Assert.Equal(a.Request, b.Request);
        Assert.Equal(a.Route.Priority, b.Route.Priority);
        Assert.Equal(a.Route.Steps, b.Route.Steps);
        Assert.Equal(a.Route.Throttle, b.Route.Throttle);
        Assert.Equal(a.Route.Tags, b.Route.Tags);
        Assert.Equal(a.NotBefore, b.NotBefore);
        Assert.Equal(a.Suppressed, b.Suppressed);
        Assert.Equal(a.RequestHash, b.RequestHash);
    }

    [Fact]
    public void Plan_MergesTheStoredCustomerOnce_InlineWins_AndRulesSeeItsFields()
    {
        var request = Request("card.transaction", customerId: "ana", contacts: new Contacts(Phone: "+4915100000000"));

        var plan = Planner.Plan(Guid.CreateVersion7(), request, Ana(), Set, Time.GetUtcNow());

        var prepared = plan.Prepared!;
        Assert.Equal(new Contacts("+4915100000000", "42", "ana@example.test", null, "pt"), prepared.Request.Contacts);
        Assert.Equal(["premium"], prepared.Route.Tags);
        Assert.Equal([Channel.WhatsApp, Channel.Telegram, Channel.Sms, Channel.Email], Channels(prepared.Route));
    }

    [Fact]
    public void Plan_UnknownCustomerWithoutContacts_IsRefused_AtCustomerId()
    {
        var plan = Planner.Plan(Guid.CreateVersion7(), Request("otp", customerId: "nobody", contacts: Contacts.None), null, Set, Time.GetUtcNow());

        Assert.Null(plan.Prepared);
        Assert.Equal("/customer/id", plan.Error!.Pointer);
        Assert.Null(Planner.Plan(Guid.CreateVersion7(), Request("otp", customerId: "nobody"), null, Set, Time.GetUtcNow()).Error);
    }

    [Fact]
    public void Plan_OptedOutOfEveryChannel_IsStoredSuppressed_AndJoinsNoDigest()
    {
        var request = Request("balance.update", """{"account": "A1"}""", "ana", Contacts.None);

        var plan = Planner.Plan(Guid.CreateVersion7(), request, Ana(new OptOut(Channel.WhatsApp, null), new OptOut(Channel.Sms, null)), Set, Time.GetUtcNow());

        Assert.True(plan.Prepared!.Suppressed);
        Assert.Empty(plan.Prepared.Route.Steps);
        Assert.Null(plan.Digest);
    }

    [Fact]
    public void Plan_ExemptType_IgnoresOptOuts_WhenNoRuleDecides()
    {
        var plan = Planner.Plan(Guid.CreateVersion7(), Request("otp", customerId: "ana", contacts: Contacts.None), Ana(new OptOut(null, null)), Set, Time.GetUtcNow());

        Assert.False(plan.Prepared!.Suppressed);
        Assert.NotEmpty(plan.Prepared.Route.Steps);
    }

    [Fact]
    public void Plan_Digest_IsKeyedOnce_AndJoiningHoldsUntilTheWindowCloses_OrTheLaterDelay()
    {
        var now = Time.GetUtcNow();
        var plan = Planner.Plan(Guid.CreateVersion7(), Request("balance.update", """{"account": "A1"}""", "ana"), null, Set, now);

        Assert.Equal(new DigestJoin("balance.update\nid:ana\nA1", TimeSpan.FromMinutes(10)), plan.Digest);
        Assert.Equal(now.AddMinutes(1), plan.Prepared!.NotBefore);
        Assert.Null(plan.Prepared.Route.Digest);

        var joined = plan.JoinedDigest(now.AddMinutes(10));
        Assert.Equal(new DigestMembership("balance.update\nid:ana\nA1", now.AddMinutes(10)), joined.Route.Digest);
        Assert.Equal(now.AddMinutes(10), joined.NotBefore);
        // A window already open that closes before the rule's delay ends: the delay still holds.
        Assert.Equal(now.AddMinutes(1), plan.JoinedDigest(now.AddSeconds(20)).NotBefore);
    }

    [Fact]
    public void Plan_Throttle_GoesIntoTheRoute_WithMaskAndTtlApplied()
    {
        var now = Time.GetUtcNow();
        var plan = Planner.Plan(Guid.CreateVersion7(), Request("service.news", """{"iban": "DE89370400440532013000"}""", "ana"), null, Set, now);

        var prepared = plan.Prepared!;
        Assert.Equal(new ThrottleMembership("service.news\nid:ana", 3, TimeSpan.FromHours(1)), prepared.Route.Throttle);
        Assert.DoesNotContain("DE89370400440532013000", prepared.Request.DataJson, StringComparison.Ordinal);
        Assert.Equal(now.AddHours(2), prepared.Request.ExpiresAt);
        Assert.Null(plan.Digest);
    }

    [Fact]
    public void Plan_RequestHash_IsTheRequestAsSent_BeforeTheCustomerFilledIt()
    {
        var request = Request("card.transaction", customerId: "ana", contacts: Contacts.None, dedupeKey: "k-1");

        var plan = Planner.Plan(Guid.CreateVersion7(), request, Ana(), Set, Time.GetUtcNow());

        Assert.Equal(RequestFingerprint.Of(request), plan.Prepared!.RequestHash);
        Assert.Null(Planner.Plan(Guid.CreateVersion7(), request with { DedupeKey = null }, Ana(), Set, Time.GetUtcNow()).Prepared!.RequestHash);
    }

    [Fact]
    public void Plan_WithoutRuleSet_IsTheDefaultRoute()
    {
        var request = Request("otp");

        var plan = Planner.Plan(Guid.CreateVersion7(), request, null, null, Time.GetUtcNow());

        var expected = new DefaultRouter(new DefaultRouteOptions()).Decide(request);
        Assert.Equal(expected.Priority, plan.Prepared!.Route.Priority);
        Assert.Equal(expected.Steps, plan.Prepared.Route.Steps);
        Assert.False(plan.Prepared.Suppressed);
    }
}
