using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// The digest store contract (<see cref="IDigestStore"/>): windows open, collect and close per tenant and key, and
/// only stored notifications count as members. Every backend runs it unchanged, reusing <see cref="IStoreTestBackend"/>.
/// </summary>
public abstract class DigestStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(10);

    [Fact]
    public async Task JoinAsync_WithinTheWindow_JoinsTheSameWindow_AfterItCloses_OpensANewOne()
    {
        var tenant = await NewTenantAsync();
        var ids = Enumerable.Range(0, 4).Select(i => Guid.CreateVersion7(T0.AddSeconds(i))).ToArray();

        var first = await Stores.Digests.JoinAsync(tenant, "balance|c-1", ids[0], T0, Window, Ct);
        var second = await Stores.Digests.JoinAsync(tenant, "balance|c-1", ids[1], T0.AddMinutes(3), Window, Ct);
        var third = await Stores.Digests.JoinAsync(tenant, "balance|c-1", ids[2], T0.AddMinutes(9).AddSeconds(59), Window, Ct);
        var next = await Stores.Digests.JoinAsync(tenant, "balance|c-1", ids[3], T0.AddMinutes(10), Window, Ct);
        await AcceptAsync(tenant, ids);

        Assert.Equal(T0 + Window, first);
        Assert.Equal(first, second);
        Assert.Equal(first, third);
        Assert.Equal(T0.AddMinutes(10) + Window, next);
        Assert.Equal(ids[..3], await Stores.Digests.MembersAsync(tenant, "balance|c-1", first, Ct));
        Assert.Equal([ids[3]], await Stores.Digests.MembersAsync(tenant, "balance|c-1", next, Ct));
    }

    [Fact]
    public async Task Windows_AreSeparatePerKeyAndTenant()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        var ids = Enumerable.Range(0, 3).Select(i => Guid.CreateVersion7(T0.AddSeconds(i))).ToArray();

        var aOne = await Stores.Digests.JoinAsync(a, "balance|c-1", ids[0], T0, Window, Ct);
        var aOther = await Stores.Digests.JoinAsync(a, "balance|c-2", ids[1], T0.AddMinutes(1), Window, Ct);
        var bOne = await Stores.Digests.JoinAsync(b, "balance|c-1", ids[2], T0.AddMinutes(2), Window, Ct);
        await AcceptAsync(a, ids[..2]);
        await AcceptAsync(b, ids[2..]);

        Assert.Equal(T0.AddMinutes(1) + Window, aOther);
        Assert.Equal(T0.AddMinutes(2) + Window, bOne);
        Assert.Equal([ids[0]], await Stores.Digests.MembersAsync(a, "balance|c-1", aOne, Ct));
        Assert.Equal([ids[1]], await Stores.Digests.MembersAsync(a, "balance|c-2", aOther, Ct));
        Assert.Equal([ids[2]], await Stores.Digests.MembersAsync(b, "balance|c-1", bOne, Ct));
        Assert.Empty(await Stores.Digests.MembersAsync(b, "balance|c-1", aOne, Ct));
    }

    [Fact]
    public async Task MembersAsync_LeavesOutJoinsWhoseNotificationWasNeverStored()
    {
        var tenant = await NewTenantAsync();
        var stored = Guid.CreateVersion7(T0);
        var lost = Guid.CreateVersion7(T0.AddSeconds(1));

        var closes = await Stores.Digests.JoinAsync(tenant, "k", stored, T0, Window, Ct);
        await Stores.Digests.JoinAsync(tenant, "k", lost, T0.AddSeconds(1), Window, Ct);
        await AcceptAsync(tenant, [stored]);

        Assert.Equal([stored], await Stores.Digests.MembersAsync(tenant, "k", closes, Ct));
    }

    [Fact]
    public async Task JoinAsync_Concurrently_AllJoinOneWindow()
    {
        var tenant = await NewTenantAsync();
        var ids = Enumerable.Range(0, 12).Select(i => Guid.CreateVersion7(T0.AddMilliseconds(i))).ToArray();

        var windows = await Task.WhenAll(ids.Select((id, i) => Stores.Digests.JoinAsync(tenant, "k", id, T0.AddMilliseconds(i), Window, Ct)));
        await AcceptAsync(tenant, ids);

        Assert.Single(windows.Distinct());
        Assert.Equal(ids.Order(), (await Stores.Digests.MembersAsync(tenant, "k", windows[0], Ct)).Order());
    }

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    private async Task AcceptAsync(Guid tenant, IReadOnlyList<Guid> ids) =>
        await Stores.Notifications.AcceptAsync(
            [.. ids.Select(id => new PreparedNotification(
                id,
                new NewNotification(tenant, null, "balance.update", "c-1", new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null),
                new Route(Priority.Low, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))])))],
            T0,
            Ct);
}

public sealed class PostgresDigestStoreComplianceTests(PostgresFixture server) : DigestStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteDigestStoreComplianceTests : DigestStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
