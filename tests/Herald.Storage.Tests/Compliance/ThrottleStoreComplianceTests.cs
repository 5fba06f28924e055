namespace Herald.Storage.Tests;

/// <summary>
/// The throttle store contract (<see cref="IThrottleStore"/>): at most max sends of a group in any window of length per
/// (sliding), per tenant and key, exact under concurrent admissions, and old sends forgotten. Every backend runs it
/// unchanged, reusing <see cref="IStoreTestBackend"/>.
/// </summary>
public abstract class ThrottleStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task AdmitAsync_AdmitsUpToMax_ThenRefuses_AndCountsOnlyAdmitted()
    {
        var tenant = Guid.NewGuid();

        var first = await AdmitAsync(tenant, "k", Id(0), 3, T0);
        var second = await AdmitAsync(tenant, "k", Id(1), 3, T0.AddMinutes(1));
        var third = await AdmitAsync(tenant, "k", Id(2), 3, T0.AddMinutes(2));
        var fourth = await AdmitAsync(tenant, "k", Id(3), 3, T0.AddMinutes(3));
        var fifth = await AdmitAsync(tenant, "k", Id(4), 3, T0.AddMinutes(4));

        Assert.Equal([true, true, true, false, false], [first, second, third, fourth, fifth]);
        Assert.Equal(3, await Stores.Throttles.CountAsync(tenant, "k", Hour, T0.AddMinutes(5), Ct));
    }

    [Fact]
    public async Task AdmitAsync_TheSameNotificationAgain_IsAdmittedWithoutCountingTwice()
    {
        var tenant = Guid.NewGuid();

        Assert.True(await AdmitAsync(tenant, "k", Id(0), 2, T0));
        Assert.True(await AdmitAsync(tenant, "k", Id(0), 2, T0.AddMinutes(1)));
        Assert.True(await AdmitAsync(tenant, "k", Id(1), 2, T0.AddMinutes(2)));
        // Full now, but a retry or fallback of an admitted notification still goes, even after its own window ended.
        Assert.True(await AdmitAsync(tenant, "k", Id(0), 2, T0.AddMinutes(3)));
        Assert.False(await AdmitAsync(tenant, "k", Id(2), 2, T0.AddMinutes(4)));

        Assert.Equal(2, await Stores.Throttles.CountAsync(tenant, "k", Hour, T0.AddMinutes(5), Ct));
    }

    [Fact]
    public async Task Window_Slides_EachSendFreesItsSlotExactlyPerAfterIt()
    {
        var tenant = Guid.NewGuid();
        Assert.True(await AdmitAsync(tenant, "k", Id(0), 2, T0));
        Assert.True(await AdmitAsync(tenant, "k", Id(1), 2, T0.AddMinutes(30)));

        // A fixed hourly window would reset at 09:00 and let two more through; the sliding window does not.
        Assert.False(await AdmitAsync(tenant, "k", Id(2), 2, T0.AddMinutes(59).AddSeconds(59)));
        Assert.False(await AdmitAsync(tenant, "k", Id(3), 2, T0 + Hour - TimeSpan.FromMilliseconds(1)));
        // 09:00: the 08:00 send leaves the window (it counts while sent > now - per), one slot frees.
        Assert.True(await AdmitAsync(tenant, "k", Id(4), 2, T0 + Hour));
        Assert.False(await AdmitAsync(tenant, "k", Id(5), 2, T0.AddMinutes(80)));
        // 09:30: the 08:30 send leaves.
        Assert.True(await AdmitAsync(tenant, "k", Id(6), 2, T0.AddMinutes(90)));

        Assert.Equal(2, await Stores.Throttles.CountAsync(tenant, "k", Hour, T0.AddMinutes(90), Ct));
        Assert.Equal(1, await Stores.Throttles.CountAsync(tenant, "k", Hour, T0.AddMinutes(149), Ct));
        Assert.Equal(0, await Stores.Throttles.CountAsync(tenant, "k", Hour, T0.AddMinutes(150), Ct));
    }

    [Fact]
    public async Task Groups_AreSeparatePerKeyAndTenant()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();

        Assert.True(await AdmitAsync(a, "k", Id(0), 1, T0));
        Assert.False(await AdmitAsync(a, "k", Id(1), 1, T0));
        Assert.True(await AdmitAsync(a, "other", Id(2), 1, T0));
        Assert.True(await AdmitAsync(b, "k", Id(3), 1, T0));
        Assert.False(await AdmitAsync(b, "k", Id(4), 1, T0));

        Assert.Equal(1, await Stores.Throttles.CountAsync(a, "k", Hour, T0, Ct));
        Assert.Equal(1, await Stores.Throttles.CountAsync(b, "k", Hour, T0, Ct));
        Assert.Equal(0, await Stores.Throttles.CountAsync(b, "other", Hour, T0, Ct));
    }

    [Fact]
    public async Task AdmitAsync_FromManyTasksAndConnectionsAtOnce_NeverExceedsMax()
    {
        var tenant = Guid.NewGuid();
        const int Max = 5;
        // Two store sets on one database: two nodes' connection pools, as far as the database can tell.
        await using var other = Backend.Open();
        var ids = Enumerable.Range(0, 40).Select(Id).ToArray();

        var admitted = await Task.WhenAll(ids.Select((id, i) =>
            Task.Run(() => (i % 2 == 0 ? Stores : other).Throttles.AdmitAsync(tenant, "k", id, Max, Hour, T0.AddMilliseconds(i), Ct), Ct)));

        Assert.Equal(Max, admitted.Count(a => a));
        Assert.Equal(Max, await Stores.Throttles.CountAsync(tenant, "k", Hour, T0.AddSeconds(1), Ct));
    }

    [Fact]
    public async Task DeleteBeforeAsync_ForgetsOldSendsOnly_AndTheGroupStartsAfresh()
    {
        var tenant = Guid.NewGuid();
        Assert.True(await AdmitAsync(tenant, "old", Id(0), 1, T0));
        Assert.True(await AdmitAsync(tenant, "k", Id(1), 2, T0));
        Assert.True(await AdmitAsync(tenant, "k", Id(2), 2, T0.AddMinutes(10)));

        var removed = await Stores.Throttles.DeleteBeforeAsync(T0.AddMinutes(5), 100, Ct);

        Assert.Equal(2, removed);
        Assert.Equal(0, await Stores.Throttles.CountAsync(tenant, "old", TimeSpan.FromDays(1), T0.AddMinutes(10), Ct));
        Assert.Equal(1, await Stores.Throttles.CountAsync(tenant, "k", TimeSpan.FromDays(1), T0.AddMinutes(10), Ct));
        Assert.Equal(0, await Stores.Throttles.DeleteBeforeAsync(T0.AddMinutes(5), 100, Ct));
        // The group row is gone with its sends; the group works as before.
        Assert.True(await AdmitAsync(tenant, "old", Id(3), 1, T0.AddMinutes(11)));
        Assert.False(await AdmitAsync(tenant, "old", Id(4), 1, T0.AddMinutes(12)));
    }

    [Fact]
    public async Task DeleteBeforeAsync_TakesAtMostMax_OldestFirst()
    {
        var tenant = Guid.NewGuid();
        for (var i = 0; i < 5; i++)
        {
            Assert.True(await AdmitAsync(tenant, "k", Id(i), 10, T0.AddMinutes(i)));
        }

        Assert.Equal(2, await Stores.Throttles.DeleteBeforeAsync(T0.AddHours(2), 2, Ct));
        Assert.Equal(3, await Stores.Throttles.CountAsync(tenant, "k", Hour, T0.AddMinutes(5), Ct));
        // The oldest went first: at 09:02:30 only the 08:03 and 08:04 sends are still in the window.
        Assert.Equal(2, await Stores.Throttles.CountAsync(tenant, "k", Hour, T0.AddMinutes(62).AddSeconds(30), Ct));
    }

    private Task<bool> AdmitAsync(Guid tenant, string key, Guid id, int max, DateTimeOffset now) =>
        Stores.Throttles.AdmitAsync(tenant, key, id, max, Hour, now, Ct);

    // Deterministic: the same number is the same notification (each test has its own database).
    private static Guid Id(int i) => new($"01900000-0000-7000-8000-{i:D12}");
}

public sealed class PostgresThrottleStoreComplianceTests(PostgresFixture server) : ThrottleStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteThrottleStoreComplianceTests : ThrottleStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
