using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// The overview's counts (<see cref="INotificationCountStore"/>, issue #19) on every backend: a recount of a bucket
/// says what the notifications themselves say (the live grouped count), follows status changes on the next recount,
/// records how many were open, sums into wider buckets, keeps tenants apart, and is pruned by age.
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

    private static long Count(IEnumerable<NotificationCount> counts, NotificationStatus status) =>
        counts.Where(c => c.Status == status).Sum(c => c.Count);

    private async Task<Guid> AcceptAsync(Guid tenant, DateTimeOffset at, NotificationStatus status)
    {
        var route = new Route(Priority.Normal, [new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30))]);
        var request = new NewNotification(tenant, null, "card.transaction", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null);
        var id = Assert.Single(await Stores.Notifications.AcceptAsync([new PreparedNotification(Guid.CreateVersion7(at.AddMilliseconds(Interlocked.Increment(ref _tick))), request, route)], at, Ct)).Id;
        if (status != NotificationStatus.Accepted)
        {
            var queue = status.IsFinal() ? QueueAction.Remove : QueueAction.At(at);
            var applied = await Stores.Delivery.ApplyAsync([new DeliveryUpdate(id, 0, new Transition(status, DeliveryProgress.Start, null, queue), [])], at, Ct);
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
