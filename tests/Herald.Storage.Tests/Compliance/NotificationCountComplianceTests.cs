using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// <see cref="INotificationStore.CountAsync"/>, behind the console's overview: a notification counts in [from, to)
/// by its creation time (read as the UUIDv7 id range, <see cref="TimeOrderedIds"/>), in the bucket its creation
/// time falls in, grouped by channel, status and priority, for one tenant. Every backend runs it unchanged.
/// </summary>
public abstract class NotificationCountComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task CountAsync_CountsFromInclusiveToExclusive_PerBucketPriorityAndStatus_ForOneTenant()
    {
        var tenant = (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;
        var other = (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;
        var to = T0.AddHours(1);
        await AcceptAtAsync(tenant, T0.AddMilliseconds(-1), Priority.Normal);   // before the range
        await AcceptAtAsync(tenant, T0, Priority.Normal);                       // its first millisecond
        await AcceptAtAsync(tenant, T0.AddSeconds(30), Priority.Critical);
        await AcceptAtAsync(tenant, T0.AddSeconds(90), Priority.Normal);
        await AcceptAtAsync(tenant, to.AddMilliseconds(-1), Priority.Normal);   // its last millisecond
        await AcceptAtAsync(tenant, to, Priority.Normal);                       // after the range
        await AcceptAtAsync(other, T0.AddSeconds(10), Priority.Normal);

        var counts = await Stores.Notifications.CountAsync(tenant, T0, to, TimeSpan.FromMinutes(1), Ct);

        Assert.Equal(
            [
                new NotificationCount(T0, null, NotificationStatus.Accepted, Priority.Critical, 1),
                new NotificationCount(T0, null, NotificationStatus.Accepted, Priority.Normal, 1),
                new NotificationCount(T0.AddMinutes(1), null, NotificationStatus.Accepted, Priority.Normal, 1),
                new NotificationCount(to.AddMinutes(-1), null, NotificationStatus.Accepted, Priority.Normal, 1),
            ],
            counts.OrderBy(c => c.Bucket).ThenBy(c => c.Priority));
    }

    [Fact]
    public void TimeOrderedIdsFloor_IsTheSmallestIdOfItsMillisecond()
    {
        var at = T0.AddMilliseconds(123);

        var floor = TimeOrderedIds.Floor(at);

        Assert.Equal("01b8dc7d-287b-0000-0000-000000000000", floor.ToString());
        Assert.True(string.CompareOrdinal(floor.ToString(), Guid.CreateVersion7(at).ToString()) <= 0);
        Assert.True(string.CompareOrdinal(Guid.CreateVersion7(at.AddMilliseconds(-1)).ToString(), floor.ToString()) < 0);
    }

    private async Task AcceptAtAsync(Guid tenant, DateTimeOffset at, Priority priority) =>
        await Stores.Notifications.AcceptAsync(
            [new PreparedNotification(
                Guid.CreateVersion7(at),
                new NewNotification(tenant, null, "account.balance", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null),
                new Route(priority, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]))],
            at,
            Ct);
}

public sealed class PostgresNotificationCountComplianceTests(PostgresFixture server) : NotificationCountComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteNotificationCountComplianceTests : NotificationCountComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
