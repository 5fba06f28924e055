using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// The rule store contract (<see cref="IRuleStore"/>) and what the rules make ingest store (suppressed, delayed,
/// routes with the rules' extras). Every backend runs it unchanged, reusing <see cref="IStoreTestBackend"/>.
/// </summary>
public abstract class RuleStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private const string DocA = """{"rules": [{"name": "a", "then": {"priority": "low"}}]}""";
    private const string DocB = """{"rules": [ {"name": "b",  "then": {"priority": "high"}} ]}""";

    [Fact]
    public async Task AppendAsync_FirstAndNext_NumberConsecutivelyAndRoundTrip()
    {
        var tenant = await NewTenantAsync();

        Assert.Null(await Stores.Rules.GetCurrentAsync(tenant, Ct));
        var v1 = await Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocA, "key 1 (hk_a)", "first", null), T0.AddTicks(1234), Ct);
        var v2 = await Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocB, "key 2 (hk_b)", null, 1), T0.AddSeconds(1), Ct);

        Assert.NotNull(v1);
        Assert.NotNull(v2);
        Assert.Equal(new RuleSetVersion(tenant, 1, DocA, "key 1 (hk_a)", T0, "first", null), v1);
        Assert.Equal(2, v2.Version);
        Assert.Equal(v2, await Stores.Rules.GetCurrentAsync(tenant, Ct));
        Assert.Equal(v1, await Stores.Rules.GetVersionAsync(tenant, 1, Ct));
        // The document comes back exactly as written, whitespace included.
        Assert.Equal(DocB, (await Stores.Rules.GetVersionAsync(tenant, 2, Ct))!.Document);
        Assert.Null(await Stores.Rules.GetVersionAsync(tenant, 3, Ct));
    }

    [Fact]
    public async Task AppendAsync_ExpectedVersionStale_ReturnsNullAndStoresNothing()
    {
        var tenant = await NewTenantAsync();
        await Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocA, "k", null, 0), T0, Ct);

        Assert.Null(await Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocB, "k", null, 0), T0, Ct));
        Assert.Null(await Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocB, "k", null, 2), T0, Ct));
        Assert.Equal(1, (await Stores.Rules.GetCurrentAsync(tenant, Ct))!.Version);
        Assert.Null(await Stores.Rules.AppendAsync(new RuleSetChange(await NewTenantAsync(), DocB, "k", null, 1), T0, Ct));
    }

    [Fact]
    public async Task AppendAsync_Rollback_IsANewVersionRecordingItsOrigin()
    {
        var tenant = await NewTenantAsync();
        await Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocA, "k", null, null), T0, Ct);
        await Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocB, "k", null, null), T0, Ct);

        var rolledBack = await Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocA, "k", "rollback to 1", null, RolledBackFrom: 1), T0, Ct);

        Assert.Equal(3, rolledBack!.Version);
        Assert.Equal(1, rolledBack.RolledBackFrom);
        Assert.Equal(DocA, (await Stores.Rules.GetCurrentAsync(tenant, Ct))!.Document);
        Assert.Equal([3L, 2L, 1L], (await Stores.Rules.ListVersionsAsync(tenant, null, 50, Ct)).Select(v => v.Version));
    }

    [Fact]
    public async Task AppendAsync_ConcurrentWithoutExpectation_AllStoredWithDistinctVersions()
    {
        var tenant = await NewTenantAsync();

        var appended = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            Task.Run(() => Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocA, $"k{i}", null, null), T0, Ct), Ct)));

        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), appended.Select(v => v!.Version).Order());
        Assert.Equal(12, (await Stores.Rules.GetCurrentAsync(tenant, Ct))!.Version);
    }

    [Fact]
    public async Task AppendAsync_ConcurrentWithSameExpectation_ExactlyOneWins()
    {
        var tenant = await NewTenantAsync();
        await Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocA, "k", null, null), T0, Ct);

        var appended = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            Task.Run(() => Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocB, $"k{i}", null, 1), T0, Ct), Ct)));

        var winner = Assert.Single(appended, v => v is not null);
        Assert.Equal(2, winner!.Version);
        Assert.Equal(2, (await Stores.Rules.GetCurrentAsync(tenant, Ct))!.Version);
    }

    [Fact]
    public async Task ListVersionsAsync_NewestFirstPagedAndTenantScoped()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        for (var i = 0; i < 5; i++)
        {
            await Stores.Rules.AppendAsync(new RuleSetChange(tenant, DocA, "k", null, null), T0, Ct);
        }

        await Stores.Rules.AppendAsync(new RuleSetChange(other, DocB, "k", null, null), T0, Ct);

        Assert.Equal([5L, 4L], (await Stores.Rules.ListVersionsAsync(tenant, null, 2, Ct)).Select(v => v.Version));
        Assert.Equal([3L, 2L], (await Stores.Rules.ListVersionsAsync(tenant, 4, 2, Ct)).Select(v => v.Version));
        Assert.Equal([1L], (await Stores.Rules.ListVersionsAsync(other, null, 0, Ct)).Select(v => v.Version));
        Assert.Null(await Stores.Rules.GetVersionAsync(other, 2, Ct));
        Assert.Empty(await Stores.Rules.ListVersionsAsync(Guid.NewGuid(), null, 10, Ct));
    }

    [Fact]
    public async Task CurrentVersionsAsync_OnlyTenantsWithRules()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        await NewTenantAsync();
        await Stores.Rules.AppendAsync(new RuleSetChange(a, DocA, "k", null, null), T0, Ct);
        await Stores.Rules.AppendAsync(new RuleSetChange(a, DocA, "k", null, null), T0, Ct);
        await Stores.Rules.AppendAsync(new RuleSetChange(b, DocA, "k", null, null), T0, Ct);

        var versions = await Stores.Rules.CurrentVersionsAsync(Ct);

        Assert.Equal(new Dictionary<Guid, long> { [a] = 2, [b] = 1 }, versions);
    }

    // ---- what rules make ingest store ----

    [Fact]
    public async Task AcceptAsync_Suppressed_StoredFinalAndNeverQueued()
    {
        var tenant = await NewTenantAsync();
        var id = Guid.CreateVersion7(T0);

        var result = Assert.Single(await Stores.Notifications.AcceptAsync([Prepare(tenant, id) with { Suppressed = true }], T0, Ct));

        Assert.Equal(new AcceptResult(id, true, NotificationStatus.Suppressed), result);
        Assert.Equal(NotificationStatus.Suppressed, (await Stores.Notifications.GetAsync(tenant, id, Ct))!.Status);
        Assert.Null(await Stores.Delivery.NextDueAsync(Ct));
        Assert.Empty(await Stores.Delivery.ClaimAsync(10, TimeSpan.FromMinutes(1), T0.AddDays(1), Ct));
    }

    [Fact]
    public async Task AcceptAsync_NotBefore_FirstDueThenAndNotClaimableEarlier()
    {
        var tenant = await NewTenantAsync();
        var delayed = Guid.CreateVersion7(T0);
        var now = Guid.CreateVersion7(T0.AddMilliseconds(1));
        var past = Guid.CreateVersion7(T0.AddMilliseconds(2));

        await Stores.Notifications.AcceptAsync(
            [
                Prepare(tenant, delayed) with { NotBefore = T0.AddMinutes(10).AddTicks(5) },
                Prepare(tenant, now),
                Prepare(tenant, past) with { NotBefore = T0.AddMinutes(-1) },
            ],
            T0, Ct);

        Assert.Equal(T0, await Stores.Delivery.NextDueAsync(Ct));
        var early = await Stores.Delivery.ClaimAsync(10, TimeSpan.FromHours(1), T0.AddMinutes(9), Ct);
        Assert.Equal(new[] { now, past }.Order(), early.Select(c => c.Notification.Id).Order());
        Assert.Equal(T0.AddMinutes(10), await Stores.Delivery.NextDueAsync(Ct));
        var due = await Stores.Delivery.ClaimAsync(10, TimeSpan.FromHours(1), T0.AddMinutes(10), Ct);
        Assert.Equal(delayed, Assert.Single(due).Notification.Id);
    }

    [Fact]
    public async Task AcceptAsync_RouteWithRuleExtras_RoundTrips()
    {
        var tenant = await NewTenantAsync();
        var id = Guid.CreateVersion7(T0);
        var route = new Route(Priority.High, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(20))])
        {
            CostPolicy = CostPolicy.Fastest,
            QuietHours = QuietHoursPolicy.Override,
            Templates = new Dictionary<Channel, string> { [Channel.Sms] = "otp_short", [Channel.WhatsApp] = "otp_wa" },
            Tags = ["security", "otp"],
        };

        await Stores.Notifications.AcceptAsync([Prepare(tenant, id) with { Route = route }], T0, Ct);
        var stored = (await Stores.Notifications.GetAsync(tenant, id, Ct))!.Route;
        var claimed = Assert.Single(await Stores.Delivery.ClaimAsync(1, TimeSpan.FromMinutes(1), T0, Ct)).Notification.Route;

        foreach (var r in new[] { stored, claimed })
        {
            Assert.Equal(route.Priority, r.Priority);
            Assert.Equal(route.Steps, r.Steps);
            Assert.Equal(CostPolicy.Fastest, r.CostPolicy);
            Assert.Equal(QuietHoursPolicy.Override, r.QuietHours);
            Assert.Equal(route.Templates.OrderBy(t => t.Key), r.Templates!.OrderBy(t => t.Key));
            Assert.Equal(route.Tags, r.Tags);
        }
    }

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    private static PreparedNotification Prepare(Guid tenant, Guid id) =>
        new(
            id,
            new NewNotification(tenant, null, "service.news", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null),
            new Route(Priority.Normal, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]));
}

public sealed class PostgresRuleStoreComplianceTests(PostgresFixture server) : RuleStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteRuleStoreComplianceTests : RuleStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
