using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// Fair dispatch within a lane (<see cref="IDeliveryStore.ClaimAsync(int, TimeSpan, DateTimeOffset, Priority, CancellationToken)"/>):
/// one tenant's backlog does not hold another tenant's due entry back, batches are shared by weight, a share a tenant
/// cannot fill goes to the others, and lanes stay strictly ordered. Also the tenant limits the weights come from and
/// the bounded backlog count. Every backend runs it unchanged.
/// </summary>
public abstract class FairClaimComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(10);
    private int _tick;

    [Fact]
    public async Task ClaimAsync_BigTenantBacklogOlder_OtherTenantIsInTheFirstBatch()
    {
        var big = await NewTenantAsync();
        var small = await NewTenantAsync();
        await AcceptManyAsync(big, 2_000, Priority.Normal, T0);
        var late = (await AcceptManyAsync(small, 1, Priority.Normal, T0.AddMinutes(1)))[0];

        var first = await Stores.Delivery.ClaimAsync(50, Lease, T0.AddMinutes(2), Ct);

        // FIFO across tenants would hand out 2,000 of the big tenant's older entries first.
        Assert.Contains(late, first.Select(c => c.Notification.Id));
        Assert.Equal(50, first.Count);
    }

    [Fact]
    public async Task ClaimAsync_OneSourcesBurstOlder_TheTenantsOtherSourcesAreInTheFirstBatch()
    {
        var tenant = await NewTenantAsync();
        var bursting = Guid.NewGuid();
        var other = Guid.NewGuid();
        await AcceptManyAsync(tenant, 2_000, Priority.Normal, T0, bursting);
        var fromOther = (await AcceptManyAsync(tenant, 1, Priority.Normal, T0.AddMinutes(1), other))[0];
        var fromApi = (await AcceptManyAsync(tenant, 1, Priority.Normal, T0.AddMinutes(1)))[0];

        var first = await Stores.Delivery.ClaimAsync(50, Lease, T0.AddMinutes(2), Ct);

        // First in, first out within the tenant would hand out the burst's 2,000 older entries first.
        Assert.Contains(fromOther, first.Select(c => c.Notification.Id));
        Assert.Contains(fromApi, first.Select(c => c.Notification.Id));
        Assert.Equal(50, first.Count);
    }

    [Fact]
    public async Task ClaimAsync_ATenantsSources_SplitItsShare_NotMultiplyIt()
    {
        var spread = await NewTenantAsync();
        var single = await NewTenantAsync();
        var (s1, s2, s3) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await AcceptManyAsync(spread, 40, Priority.Normal, T0, s1);
        await AcceptManyAsync(spread, 40, Priority.Normal, T0, s2);
        await AcceptManyAsync(spread, 40, Priority.Normal, T0, s3);
        await AcceptManyAsync(single, 40, Priority.Normal, T0.AddMinutes(1));

        var batch = await Stores.Delivery.ClaimAsync(18, Lease, T0.AddMinutes(2), Ct);

        // Equal tenant weights: half the batch each, however many sources a tenant sends through; the spread tenant's
        // half is shared evenly by its three sources.
        Assert.Equal(9, batch.Count(c => c.Notification.TenantId == single));
        var bySource = batch.Where(c => c.Notification.TenantId == spread).GroupBy(c => c.Notification.SourceId).ToDictionary(g => g.Key!.Value, g => g.Count());
        Assert.Equal(new Dictionary<Guid, int> { [s1] = 3, [s2] = 3, [s3] = 3 }, bySource);
    }

    [Fact]
    public async Task ClaimAsync_EqualWeights_BatchIsSharedEvenly_EachTenantOldestFirst()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        var aOld = await AcceptManyAsync(a, 5, Priority.Normal, T0);
        await AcceptManyAsync(a, 25, Priority.Normal, T0.AddSeconds(1));
        await AcceptManyAsync(b, 30, Priority.Normal, T0.AddMinutes(1));

        var batch = await Stores.Delivery.ClaimAsync(10, Lease, T0.AddMinutes(2), Ct);

        Assert.Equal(aOld.ToHashSet(), batch.Where(c => c.Notification.TenantId == a).Select(c => c.Notification.Id).ToHashSet());
        Assert.Equal(5, batch.Count(c => c.Notification.TenantId == b));
    }

    [Fact]
    public async Task ClaimAsync_Weights_ShareTheBatchInProportion()
    {
        var heavy = await NewTenantAsync();
        var light = await NewTenantAsync();
        Assert.True(await Stores.Tenants.SetLimitsAsync(heavy, TenantLimits.Default with { Weight = 300 }, Ct));
        await AcceptManyAsync(heavy, 40, Priority.Normal, T0.AddMinutes(1));
        await AcceptManyAsync(light, 40, Priority.Normal, T0);

        var batch = await Stores.Delivery.ClaimAsync(20, Lease, T0.AddMinutes(2), Ct);

        Assert.Equal(15, batch.Count(c => c.Notification.TenantId == heavy));
        Assert.Equal(5, batch.Count(c => c.Notification.TenantId == light));
    }

    [Fact]
    public async Task ClaimAsync_ShareATenantCannotFill_GoesToTheOthers()
    {
        var big = await NewTenantAsync();
        var small = await NewTenantAsync();
        var third = await NewTenantAsync();
        await AcceptManyAsync(big, 100, Priority.Normal, T0);
        var smallIds = await AcceptManyAsync(small, 2, Priority.Normal, T0);
        var thirdIds = await AcceptManyAsync(third, 1, Priority.Normal, T0);

        var batch = await Stores.Delivery.ClaimAsync(30, Lease, T0.AddMinutes(1), Ct);

        Assert.Equal(30, batch.Count);
        Assert.Equal(27, batch.Count(c => c.Notification.TenantId == big));
        Assert.Subset(batch.Select(c => c.Notification.Id).ToHashSet(), smallIds.Concat(thirdIds).ToHashSet());
    }

    [Fact]
    public async Task ClaimAsync_SingleTenant_FillsWholeBatchesInDueOrder()
    {
        var only = await NewTenantAsync();
        var ids = await AcceptManyAsync(only, 25, Priority.Normal, T0);

        var first = await Stores.Delivery.ClaimAsync(10, Lease, T0.AddMinutes(1), Ct);
        var second = await Stores.Delivery.ClaimAsync(10, Lease, T0.AddMinutes(1), Ct);
        var third = await Stores.Delivery.ClaimAsync(10, Lease, T0.AddMinutes(1), Ct);

        Assert.Equal(ids.ToHashSet(), first.Concat(second).Concat(third).Select(c => c.Notification.Id).ToHashSet());
        Assert.Equal([10, 10, 5], [first.Count, second.Count, third.Count]);
    }

    [Fact]
    public async Task ClaimAsync_StrictPriorityBetweenLanes_AcrossTenants()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        await AcceptManyAsync(a, 20, Priority.Normal, T0);
        var high = await AcceptManyAsync(b, 3, Priority.High, T0.AddMinutes(1));
        var critical = await AcceptManyAsync(a, 2, Priority.Critical, T0.AddMinutes(1));

        var batch = await Stores.Delivery.ClaimAsync(6, Lease, T0.AddMinutes(2), Ct);

        Assert.Equal(critical.ToHashSet(), batch.Take(2).Select(c => c.Notification.Id).ToHashSet());
        Assert.Equal(high.ToHashSet(), batch.Skip(2).Take(3).Select(c => c.Notification.Id).ToHashSet());
        Assert.Equal(a, batch[5].Notification.TenantId);
        Assert.Equal(Priority.Normal, batch[5].Notification.Priority);
    }

    [Fact]
    public async Task ClaimAsync_TenantWithOnlyFutureEntries_TakesNoShare()
    {
        var waiting = await NewTenantAsync();
        var due = await NewTenantAsync();
        await AcceptManyAsync(waiting, 10, Priority.Normal, T0.AddHours(1));
        var dueIds = await AcceptManyAsync(due, 10, Priority.Normal, T0);

        // A lease beyond the waiting tenant's due time, so the next due time is that tenant's.
        var batch = await Stores.Delivery.ClaimAsync(10, TimeSpan.FromHours(2), T0.AddMinutes(1), Ct);

        Assert.Equal(dueIds.ToHashSet(), batch.Select(c => c.Notification.Id).ToHashSet());
        Assert.Equal(T0.AddHours(1), await Stores.Delivery.NextDueAsync(Ct));
    }

    [Fact]
    public async Task ClaimAsync_ConcurrentClaimers_ManyTenants_GetDisjointCompleteSets()
    {
        var all = new List<Guid>();
        for (var t = 0; t < 5; t++)
        {
            all.AddRange(await AcceptManyAsync(await NewTenantAsync(), 40, Priority.Normal, T0));
        }

        var seen = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (await Stores.Delivery.ClaimAsync(13, Lease, T0, Ct) is { Count: > 0 } batch)
            {
                foreach (var c in batch)
                {
                    seen.Add(c.Notification.Id);
                }
            }
        })));

        Assert.Equal(all.Count, seen.Count);
        Assert.Equal(all.ToHashSet(), seen.ToHashSet());
    }

    [Fact]
    public async Task PromoteAgedAsync_OneTenantsAgedBacklog_TakesAtMostItsRoomInTheLaneAbove()
    {
        var big = await NewTenantAsync();
        var small = await NewTenantAsync();
        await AcceptManyAsync(big, 50, Priority.Normal, T0);
        await AcceptManyAsync(small, 2, Priority.Normal, T0);
        var age = TimeSpan.FromMinutes(5);

        var first = await Stores.Delivery.PromoteAgedAsync(age, 1_000, 10, T0.AddMinutes(10), Ct);
        var second = await Stores.Delivery.PromoteAgedAsync(age, 1_000, 10, T0.AddMinutes(11), Ct);
        var high = await Stores.Delivery.ClaimAsync(100, Lease, T0.AddMinutes(11), Priority.High, Ct);

        // Strict priority would put all 50 of the big tenant's entries ahead of every other tenant's normal work.
        Assert.Equal(12, first);
        Assert.Equal(0, second);
        Assert.Equal(10, high.Count(c => c.Notification.TenantId == big));
        Assert.Equal(2, high.Count(c => c.Notification.TenantId == small));
    }

    [Fact]
    public async Task CountQueuedAsync_CountsTheTenantsUnfinishedEntries_UpToTheBound()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        await AcceptManyAsync(a, 7, Priority.Normal, T0);
        await AcceptManyAsync(a, 3, Priority.Low, T0);
        await AcceptManyAsync(b, 2, Priority.Critical, T0);

        Assert.Equal(10, await Stores.Delivery.CountQueuedAsync(a, 100, Ct));
        Assert.Equal(4, await Stores.Delivery.CountQueuedAsync(a, 4, Ct));
        Assert.Equal(2, await Stores.Delivery.CountQueuedAsync(b, 100, Ct));
        Assert.Equal(0, await Stores.Delivery.CountQueuedAsync(Guid.NewGuid(), 100, Ct));
    }

    [Fact]
    public async Task Limits_DefaultThenSet_RoundTrip_UnknownTenantIsNull()
    {
        var tenant = await NewTenantAsync();

        Assert.Equal(TenantLimits.Default, await Stores.Tenants.GetLimitsAsync(tenant, Ct));
        var limits = new TenantLimits(250, 12.5, 400, 50_000);
        Assert.True(await Stores.Tenants.SetLimitsAsync(tenant, limits, Ct));
        Assert.Equal(limits, await Stores.Tenants.GetLimitsAsync(tenant, Ct));
        Assert.True(await Stores.Tenants.SetLimitsAsync(tenant, TenantLimits.Default, Ct));
        Assert.Equal(TenantLimits.Default, await Stores.Tenants.GetLimitsAsync(tenant, Ct));

        Assert.Null(await Stores.Tenants.GetLimitsAsync(Guid.NewGuid(), Ct));
        Assert.False(await Stores.Tenants.SetLimitsAsync(Guid.NewGuid(), limits, Ct));
    }

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    /// <summary>Accepts <paramref name="count"/> notifications due at <paramref name="at"/>, in chunks.</summary>
    private async Task<List<Guid>> AcceptManyAsync(Guid tenant, int count, Priority priority, DateTimeOffset at, Guid? source = null)
    {
        var ids = new List<Guid>(count);
        for (var offset = 0; offset < count; offset += 500)
        {
            var chunk = Enumerable.Range(0, Math.Min(500, count - offset)).Select(_ => Prepare(tenant, priority, source)).ToList();
            var results = await Stores.Notifications.AcceptAsync(chunk, at, Ct);
            ids.AddRange(results.Select(r => r.Id));
        }

        return ids;
    }

    private PreparedNotification Prepare(Guid tenant, Priority priority, Guid? source) =>
        new(
            Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _tick))),
            new NewNotification(tenant, source, "account.balance", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null),
            new Route(priority, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]));
}

public sealed class PostgresFairClaimComplianceTests(PostgresFixture server) : FairClaimComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteFairClaimComplianceTests : FairClaimComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
