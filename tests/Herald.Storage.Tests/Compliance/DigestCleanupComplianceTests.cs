using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// Digest housekeeping (<see cref="IDigestStore.DeleteSentAsync"/>): only windows that closed before the cut-off and
/// whose members are all final lose their rows; pending windows, newer windows and other tenants' rows stay. Every
/// backend runs it unchanged, reusing <see cref="IStoreTestBackend"/>.
/// </summary>
public abstract class DigestCleanupComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(10);

    /// <summary>The number of rows in <paramref name="table"/>: the window rows have no reader in the contract.</summary>
    protected abstract Task<long> CountRowsAsync(IStoreTestBackend backend, string table);

    [Fact]
    public async Task DeleteSentAsync_RemovesOldFinalWindows_KeepsPendingAndNewerOnes()
    {
        var tenant = await NewTenantAsync();
        // "sent": every member final (suppressed here, as collapsed members and the sent one end final).
        var sent = await JoinAsync(tenant, "sent", T0, 3);
        await AcceptAsync(tenant, sent.Ids, final: true);
        // "pending": closed long ago, but one member still waits for a worker.
        var pending = await JoinAsync(tenant, "pending", T0, 2);
        await AcceptAsync(tenant, pending.Ids[..1], final: true);
        await AcceptAsync(tenant, pending.Ids[1..], final: false);
        // "recent": final, but closed after the cut-off.
        var recent = await JoinAsync(tenant, "recent", T0.AddHours(2), 2);
        await AcceptAsync(tenant, recent.Ids, final: true);

        var deleted = await Stores.Digests.DeleteSentAsync(T0.AddHours(1), 100, Ct);

        Assert.Equal(3, deleted);
        Assert.Empty(await Stores.Digests.MembersAsync(tenant, "sent", sent.ClosesAt, Ct));
        Assert.Equal(pending.Ids, await Stores.Digests.MembersAsync(tenant, "pending", pending.ClosesAt, Ct));
        Assert.Equal(recent.Ids, await Stores.Digests.MembersAsync(tenant, "recent", recent.ClosesAt, Ct));
        Assert.Equal(0, await Stores.Digests.DeleteSentAsync(T0.AddHours(1), 100, Ct));
    }

    [Fact]
    public async Task DeleteSentAsync_CountsLostJoinsAsDone()
    {
        var tenant = await NewTenantAsync();
        var window = await JoinAsync(tenant, "k", T0, 2);
        // The second join's notification never committed: it cannot hold the window back.
        await AcceptAsync(tenant, window.Ids[..1], final: true);

        Assert.Equal(2, await Stores.Digests.DeleteSentAsync(T0.AddHours(1), 100, Ct));
    }

    [Fact]
    public async Task DeleteSentAsync_DeletesInBatches()
    {
        var tenant = await NewTenantAsync();
        var window = await JoinAsync(tenant, "k", T0, 5);
        await AcceptAsync(tenant, window.Ids, final: true);

        Assert.Equal(2, await Stores.Digests.DeleteSentAsync(T0.AddHours(1), 2, Ct));
        Assert.Equal(2, await Stores.Digests.DeleteSentAsync(T0.AddHours(1), 2, Ct));
        Assert.Equal(1, await Stores.Digests.DeleteSentAsync(T0.AddHours(1), 2, Ct));
        Assert.Equal(0, await Stores.Digests.DeleteSentAsync(T0.AddHours(1), 2, Ct));
    }

    [Fact]
    public async Task DeleteSentAsync_DropsTheWindowRow_AndTheKeyOpensAFreshWindow()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        var old = await JoinAsync(a, "k", T0, 1);
        await AcceptAsync(a, old.Ids, final: true);
        var other = await JoinAsync(b, "k", T0, 1);
        await AcceptAsync(b, other.Ids, final: false);
        Assert.Equal(2, await CountRowsAsync(Backend, "digest_windows"));

        await Stores.Digests.DeleteSentAsync(T0.AddHours(1), 100, Ct);

        // Only the other tenant's pending window keeps its row.
        Assert.Equal(1, await CountRowsAsync(Backend, "digest_windows"));
        Assert.Equal(1, await CountRowsAsync(Backend, "digest_members"));
        var later = T0.AddHours(3);
        var id = Guid.CreateVersion7(later);
        Assert.Equal(later + Window, await Stores.Digests.JoinAsync(a, "k", id, later, Window, Ct));
        await AcceptAsync(a, [id], final: false);
        Assert.Equal([id], await Stores.Digests.MembersAsync(a, "k", later + Window, Ct));
        Assert.Equal(other.Ids, await Stores.Digests.MembersAsync(b, "k", other.ClosesAt, Ct));
    }

    [Fact]
    public async Task DeleteSentAsync_WhileJoinsReopenTheKey_LosesNoNewMember()
    {
        var tenant = await NewTenantAsync();
        var old = await JoinAsync(tenant, "k", T0, 3);
        await AcceptAsync(tenant, old.Ids, final: true);
        var later = T0.AddHours(3);
        var ids = Enumerable.Range(0, 8).Select(i => Guid.CreateVersion7(later.AddMilliseconds(i))).ToArray();

        var joins = ids.Select((id, i) => Stores.Digests.JoinAsync(tenant, "k", id, later.AddMilliseconds(i), Window, Ct)).ToList();
        var cleanup = Stores.Digests.DeleteSentAsync(T0.AddHours(1), 100, Ct);
        var windows = await Task.WhenAll(joins);
        await cleanup;
        await AcceptAsync(tenant, ids, final: false);

        Assert.Single(windows.Distinct());
        Assert.Equal(ids.Order(), (await Stores.Digests.MembersAsync(tenant, "k", windows[0], Ct)).Order());
    }

    private async Task<(Guid[] Ids, DateTimeOffset ClosesAt)> JoinAsync(Guid tenant, string key, DateTimeOffset at, int count)
    {
        var ids = Enumerable.Range(0, count).Select(i => Guid.CreateVersion7(at.AddSeconds(i))).ToArray();
        var closes = default(DateTimeOffset);
        for (var i = 0; i < ids.Length; i++)
        {
            closes = await Stores.Digests.JoinAsync(tenant, key, ids[i], at.AddSeconds(i), Window, Ct);
        }

        return (ids, closes);
    }

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    /// <summary>Stores the notifications: final (suppressed, never queued) or pending (queued).</summary>
    private async Task AcceptAsync(Guid tenant, IReadOnlyList<Guid> ids, bool final) =>
        await Stores.Notifications.AcceptAsync(
            [.. ids.Select(id => new PreparedNotification(
                id,
                new NewNotification(tenant, null, "balance.update", "c-1", new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null),
                new Route(Priority.Low, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))])) { Suppressed = final })],
            T0,
            Ct);
}

public sealed class PostgresDigestCleanupComplianceTests(PostgresFixture server) : DigestCleanupComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);

    protected override async Task<long> CountRowsAsync(IStoreTestBackend backend, string table)
    {
        await using var connection = new Npgsql.NpgsqlConnection(((PostgresTestBackend)backend).ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new Npgsql.NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}

public sealed class SqliteDigestCleanupComplianceTests : DigestCleanupComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());

    protected override async Task<long> CountRowsAsync(IStoreTestBackend backend, string table)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(((SqliteTestBackend)backend).ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {table}";
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
