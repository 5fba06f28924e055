using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// The overview's counts (<see cref="INotificationCountStore"/>, issue #19) on every backend: a recount of a bucket
/// says what the notifications themselves say (the live grouped count), follows status changes on the next recount,
/// records how many were open, sums into wider buckets, keeps tenants apart, and is pruned by age; with it the fallbacks
/// and the accept→delivered histogram (<see cref="LatencyBins"/>), the same from the counts as from the notifications.
/// </summary>
public abstract class NotificationCountStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Quarter = TimeSpan.FromMinutes(15);
    private int _tick;

    [Fact]
    public async Task Recount_SaysWhatTheNotificationsSay_AndFollowsTheirStatus()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        await AcceptAsync(tenant, T0.AddMinutes(1), NotificationStatus.Delivered);
        await AcceptAsync(tenant, T0.AddMinutes(2), NotificationStatus.Delivered);
        var open = await AcceptAsync(tenant, T0.AddMinutes(3), NotificationStatus.Accepted);
        await AcceptAsync(tenant, T0.AddMinutes(16), NotificationStatus.Failed);
        await AcceptAsync(other, T0.AddMinutes(4), NotificationStatus.Delivered);
        var now = T0.AddHours(1);

        await Stores.Counts.RecountAsync(T0, now, Ct);
        await Stores.Counts.RecountAsync(T0 + Quarter, now, Ct);

        var live = await Stores.Notifications.CountAsync(tenant, T0, T0.AddHours(1), Quarter, Ct);
        Assert.Equal(live, await Stores.Counts.CountAsync(tenant, T0, T0.AddHours(1), Quarter, Ct));
        Assert.Equal(4, live.Sum(c => c.Count));
        Assert.Equal(
            [new CountedBucket(T0, now, 1), new CountedBucket(T0 + Quarter, now, 0)],
            await Stores.Counts.BucketsAsync(T0, T0.AddHours(1), Ct));

        // Summed into one hour; the other tenant's notification is its own.
        var hour = await Stores.Counts.CountAsync(tenant, T0, T0.AddHours(1), TimeSpan.FromHours(1), Ct);
        Assert.All(hour, c => Assert.Equal(T0, c.Bucket));
        Assert.Equal((2L, 1L, 1L), (Count(hour, NotificationStatus.Delivered), Count(hour, NotificationStatus.Accepted), Count(hour, NotificationStatus.Failed)));
        Assert.Equal(1, (await Stores.Counts.CountAsync(other, T0, T0.AddHours(1), Quarter, Ct)).Sum(c => c.Count));

        // The open one is delivered: the next recount says so.
        var applied = await Stores.Delivery.ApplyAsync(
            [new DeliveryUpdate(open, 0, new Transition(NotificationStatus.Delivered, DeliveryProgress.Start, null, QueueAction.Remove), [])], now, Ct);
        Assert.True(Assert.Single(applied.Applied));
        await Stores.Counts.RecountAsync(T0, now.AddMinutes(1), Ct);

        Assert.Equal(
            await Stores.Notifications.CountAsync(tenant, T0, T0.AddHours(1), Quarter, Ct),
            await Stores.Counts.CountAsync(tenant, T0, T0.AddHours(1), Quarter, Ct));
        Assert.Equal(new CountedBucket(T0, now.AddMinutes(1), 0), (await Stores.Counts.BucketsAsync(T0, T0 + Quarter, Ct)).Single());
    }

    [Fact]
    public async Task Prune_ForgetsOldBuckets_AndAnEmptyBucketIsCountedAsEmpty()
    {
        var tenant = await NewTenantAsync();
        await AcceptAsync(tenant, T0.AddMinutes(1), NotificationStatus.Delivered);
        await Stores.Counts.RecountAsync(T0, T0.AddHours(1), Ct);
        await Stores.Counts.RecountAsync(T0 + Quarter, T0.AddHours(1), Ct);

        await Stores.Counts.PruneAsync(T0 + Quarter, Ct);

        Assert.Equal([new CountedBucket(T0 + Quarter, T0.AddHours(1), 0)], await Stores.Counts.BucketsAsync(T0, T0.AddHours(1), Ct));
        Assert.Empty(await Stores.Counts.CountAsync(tenant, T0, T0.AddHours(1), Quarter, Ct));
    }

    [Fact]
    public async Task Recount_KeepsFallbacksAndTheLatencyHistogram_AsTheNotificationsSay()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        // Delivered 250 ms after it was accepted, on the first step.
        await AcceptAsync(tenant, T0.AddMinutes(1), NotificationStatus.Delivered, after: TimeSpan.FromMilliseconds(250));
        // Delivered 3 s after, on the second step: a fallback.
        await AcceptAsync(tenant, T0.AddMinutes(2), NotificationStatus.Delivered, after: TimeSpan.FromSeconds(3), step: 1);
        // Failed on the second step: a fallback, and no latency.
        await AcceptAsync(tenant, T0.AddMinutes(3), NotificationStatus.Failed, step: 1);
        // Delivered after 1 s; a read receipt 10 minutes later does not move the moment it was delivered.
        var read = await AcceptAsync(tenant, T0.AddMinutes(4), NotificationStatus.Delivered, after: TimeSpan.FromSeconds(1));
        var receipt = await Stores.Delivery.ApplyAsync(
            [new DeliveryUpdate(read, 1, new Transition(NotificationStatus.Delivered, DeliveryProgress.Start, Channel.WhatsApp, QueueAction.Remove), [])],
            T0.AddMinutes(14), Ct);
        Assert.True(Assert.Single(receipt.Applied));
        // Still open: moved to its second step, not final, so not a fallback of the range yet, and no latency.
        await AcceptAsync(tenant, T0.AddMinutes(5), NotificationStatus.Sending, step: 1);
        await AcceptAsync(other, T0.AddMinutes(1), NotificationStatus.Delivered, after: TimeSpan.FromMinutes(2));
        var now = T0.AddHours(1);

        var live = await Stores.Counts.LiveLatencyAsync(tenant, T0, now, Quarter, Ct);
        await Stores.Counts.RecountAsync(T0, now, Ct);

        Assert.Equal(
            [
                new LatencyCount(T0, LatencyBins.Of(250), 1),
                new LatencyCount(T0, LatencyBins.Of(1_000), 1),
                new LatencyCount(T0, LatencyBins.Of(3_000), 1),
            ],
            live);
        Assert.Equal(live, await Stores.Counts.LatencyAsync(tenant, T0, now, Quarter, Ct));
        Assert.Equal(
            [new LatencyCount(T0, LatencyBins.Of(120_000), 1)],
            await Stores.Counts.LatencyAsync(other, T0, now, TimeSpan.FromHours(1), Ct));
        var counts = await Stores.Counts.CountAsync(tenant, T0, now, Quarter, Ct);
        Assert.Equal(await Stores.Notifications.CountAsync(tenant, T0, now, Quarter, Ct), counts);
        Assert.Equal(
            (1L, 1L, 1L),
            (counts.Where(c => c.Status == NotificationStatus.Delivered).Sum(c => c.Fallbacks),
             counts.Where(c => c.Status == NotificationStatus.Failed).Sum(c => c.Fallbacks),
             counts.Where(c => c.Status == NotificationStatus.Sending).Sum(c => c.Fallbacks)));

        await Stores.Counts.PruneAsync(T0 + Quarter, Ct);

        Assert.Empty(await Stores.Counts.LatencyAsync(tenant, T0, now, Quarter, Ct));
        Assert.Equal(live, await Stores.Counts.LiveLatencyAsync(tenant, T0, now, Quarter, Ct));
    }

    private static long Count(IEnumerable<NotificationCount> counts, NotificationStatus status) =>
        counts.Where(c => c.Status == status).Sum(c => c.Count);

    /// <summary>Accepts a notification at <paramref name="at"/> and moves it to <paramref name="status"/> on
    /// <paramref name="step"/> <paramref name="after"/> later.</summary>
    private async Task<Guid> AcceptAsync(Guid tenant, DateTimeOffset at, NotificationStatus status, TimeSpan after = default, int step = 0)
    {
        var route = new Route(Priority.Normal, [new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30))]);
        var request = new NewNotification(tenant, null, "card.transaction", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null);
        var id = Assert.Single(await Stores.Notifications.AcceptAsync([new PreparedNotification(Guid.CreateVersion7(at.AddMilliseconds(Interlocked.Increment(ref _tick))), request, route)], at, Ct)).Id;
        if (status != NotificationStatus.Accepted)
        {
            var queue = status.IsFinal() ? QueueAction.Remove : QueueAction.At(at);
            var channel = status == NotificationStatus.Delivered ? Channel.WhatsApp : (Channel?)null;
            var transition = new Transition(status, DeliveryProgress.Start with { Step = step }, channel, queue);
            var applied = await Stores.Delivery.ApplyAsync([new DeliveryUpdate(id, 0, transition, [])], at + after, Ct);
            Assert.True(Assert.Single(applied.Applied));
        }

        return id;
    }

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;
}

public sealed class PostgresNotificationCountStoreComplianceTests(PostgresFixture server) : NotificationCountStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteNotificationCountStoreComplianceTests : NotificationCountStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
