using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// The queue sample behind the depth and oldest-due gauges (<see cref="IQueueStats"/>, issue #18): every lane is
/// reported, depth stops at the cap, and the oldest due time is the lane's earliest across tenants and sources.
/// Every backend runs it unchanged.
/// </summary>
public abstract class QueueStatsComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private int _tick;

    [Fact]
    public async Task SampleAsync_EmptyQueue_FourEmptyLanes()
    {
        var sample = await Stores.QueueStats.SampleAsync(1_000, Ct);

        Assert.Equal([Priority.Critical, Priority.High, Priority.Normal, Priority.Low], sample.Select(s => s.Lane));
        Assert.All(sample, s => Assert.Equal(0, s.Depth));
        Assert.All(sample, s => Assert.Null(s.OldestDue));
    }

    [Fact]
    public async Task SampleAsync_LanesAcrossTenantsAndSources_DepthAndEarliestDuePerLane()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        await AcceptManyAsync(a, 7, Priority.Normal, T0.AddMinutes(5));
        await AcceptManyAsync(b, 3, Priority.Normal, T0.AddMinutes(2), Guid.NewGuid());
        await AcceptManyAsync(b, 2, Priority.Critical, T0.AddMinutes(9));

        var sample = await Stores.QueueStats.SampleAsync(1_000, Ct);

        Assert.Equal([2L, 0, 10, 0], sample.Select(s => s.Depth));
        Assert.Equal(T0.AddMinutes(9), sample[0].OldestDue);
        Assert.Null(sample[1].OldestDue);
        Assert.Equal(T0.AddMinutes(2), sample[2].OldestDue);
        Assert.Null(sample[3].OldestDue);
    }

    [Fact]
    public async Task SampleAsync_LaneLongerThanTheCap_DepthStopsAtTheCap()
    {
        var a = await NewTenantAsync();
        await AcceptManyAsync(a, 12, Priority.Low, T0);

        var sample = await Stores.QueueStats.SampleAsync(5, Ct);

        Assert.Equal(5, sample[3].Depth);
        Assert.Equal(T0, sample[3].OldestDue);
    }

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    private async Task AcceptManyAsync(Guid tenant, int count, Priority priority, DateTimeOffset at, Guid? source = null)
    {
        var items = Enumerable.Range(0, count).Select(_ => Prepare(tenant, priority, source)).ToList();
        await Stores.Notifications.AcceptAsync(items, at, Ct);
    }

    private PreparedNotification Prepare(Guid tenant, Priority priority, Guid? source) =>
        new(
            Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _tick))),
            new NewNotification(tenant, source, "account.balance", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null),
            new Route(priority, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]));
}

public sealed class PostgresQueueStatsComplianceTests(PostgresFixture server) : QueueStatsComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteQueueStatsComplianceTests : QueueStatsComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
