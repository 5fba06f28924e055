using System.Security.Cryptography;
using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Storage;
using Herald.Storage.Postgres;
using Herald.Storage.Secrets;
using Herald.Storage.Sqlite;
using Herald.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Herald.Server.Tests.Changes;

/// <summary>
/// The one change feed (<see cref="IChangeFeed"/>) on real PostgreSQL (two nodes over one database) and in process
/// (SQLite): a store's write is heard by its own node before the write returns and by the other nodes over LISTEN/NOTIFY;
/// a write that does not commit is never heard anywhere; the listener comes back after a PostgreSQL restart and tells
/// its subscribers that messages may have been lost.
/// </summary>
public sealed class ChangeFeedTests(PostgresFixture postgres)
{
    private static readonly ISecretProtector Protector = new AesGcmSecretProtector([RandomNumberGenerator.GetBytes(32)]);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PostgresStoreWrite_HeardLocallyBeforeReturn_AndOnOtherNodeOverPostgres()
    {
        var cs = await postgres.CreateDatabaseAsync("feed_" + Guid.NewGuid().ToString("N")[..12], Ct);
        await using var a = await PostgresNodeAsync(cs);
        await using var b = await PostgresNodeAsync(cs);
        var heardOnA = Subscribe(a, ChangeKinds.Customer);
        var heardOnB = Subscribe(b, ChangeKinds.Customer);
        await b.GetRequiredService<IChangeFeed>().Listening.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var tenant = await a.GetRequiredService<ITenantStore>().CreateTenantAsync("t", Ct);

        await a.GetRequiredService<ICustomerStore>().UpsertAsync(tenant.Id, new Customer { Id = "c-1" }, Ct);

        // This node heard it before UpsertAsync returned: no wait.
        Assert.Contains((tenant.Id, "c-1", ChangeFeed.Local), heardOnA.Heard);
        await heardOnB.WaitForAsync("c-1", ChangeFeed.Postgres, Ct);
        Assert.DoesNotContain(heardOnB.Heard, h => h.Via == ChangeFeed.Local);
    }

    [Fact]
    public async Task PostgresChangeInRolledBackTransaction_IsNeverSeen()
    {
        var cs = await postgres.CreateDatabaseAsync("feed_" + Guid.NewGuid().ToString("N")[..12], Ct);
        await using var b = await PostgresNodeAsync(cs);
        var heard = Subscribe(b, ChangeKinds.Customer);
        await b.GetRequiredService<IChangeFeed>().Listening.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var tenant = Guid.CreateVersion7();

        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync(Ct);
        await NotifyInTransactionAsync(conn, new Change(ChangeKinds.Customer, tenant, "rolled-back"), commit: false);
        await NotifyInTransactionAsync(conn, new Change(ChangeKinds.Customer, tenant, "committed"), commit: true);

        // PostgreSQL delivers notifications in commit order: once the later one is here, the earlier would have been.
        await heard.WaitForAsync("committed", ChangeFeed.Postgres, Ct);
        Assert.DoesNotContain(heard.Heard, h => h.Key == "rolled-back");
    }

    [Fact]
    public async Task PostgresStoreWriteThatFails_AnnouncesNothingOnAnyNode()
    {
        var cs = await postgres.CreateDatabaseAsync("feed_" + Guid.NewGuid().ToString("N")[..12], Ct);
        await using var a = await PostgresNodeAsync(cs);
        await using var b = await PostgresNodeAsync(cs);
        var heardOnA = Subscribe(a, ChangeKinds.Providers);
        var heardOnB = Subscribe(b, ChangeKinds.Providers);
        await b.GetRequiredService<IChangeFeed>().Listening.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var store = a.GetRequiredService<IProviderStore>();
        var tenant = await a.GetRequiredService<ITenantStore>().CreateTenantAsync("t", Ct);
        var identity = "whatsapp:" + Guid.NewGuid().ToString("N");
        await store.CreateAsync(Account(tenant.Id, "owner") with { SenderIdentity = identity }, Ct);

        // Two accounts in one transaction, the second holding a taken identity: nothing is stored, nothing announced.
        await Assert.ThrowsAsync<SenderIdentityTakenException>(() => store.CreateManyAsync(
            [Account(tenant.Id, "first"), Account(tenant.Id, "thief") with { SenderIdentity = identity }], Ct));
        var after = await store.CreateAsync(Account(tenant.Id, "after"), Ct);

        await heardOnB.WaitForAsync(after.Id.ToString("D"), ChangeFeed.Postgres, Ct);
        Assert.DoesNotContain(heardOnB.Heard, h => h.Key == "*");
        Assert.DoesNotContain(heardOnA.Heard, h => h.Key == "*");
        Assert.Equal(2, heardOnA.Heard.Count(h => h.Via == ChangeFeed.Local));
    }

    [Fact]
    public async Task SqliteStoreWrite_HeardInProcessBeforeReturn_RefusedWriteIsNot()
    {
        var folder = Path.Combine(Path.GetTempPath(), "herald-feed-" + Guid.NewGuid().ToString("N"));
        await using var node = new ServiceCollection().AddSingleton(Protector).AddSqliteStorage($"Data Source={Path.Combine(folder, "h.db")}").BuildServiceProvider();
        try
        {
            await node.GetRequiredService<IStorageMigrator>().MigrateAsync(Ct);
            var heard = Subscribe(node, ChangeKinds.Rules);
            Assert.True(node.GetRequiredService<IChangeFeed>().Listening.IsCompleted, "Without PostgreSQL there is nothing to wait for.");
            var tenant = await node.GetRequiredService<ITenantStore>().CreateTenantAsync("t", Ct);
            var rules = node.GetRequiredService<IRuleStore>();

            var stored = await rules.AppendAsync(new RuleSetChange(tenant.Id, """{"rules": []}""", "test", null, 0), TimeProvider.System.GetUtcNow(), Ct);
            var refused = await rules.AppendAsync(new RuleSetChange(tenant.Id, """{"rules": []}""", "test", null, 0), TimeProvider.System.GetUtcNow(), Ct);

            Assert.NotNull(stored);
            Assert.Null(refused);
            Assert.Equal([(tenant.Id, "1", ChangeFeed.Local)], heard.Heard);
        }
        finally
        {
            await node.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task PostgresRestart_ListenerComesBack_SubscribersToldMessagesMayBeLost()
    {
        // A server of its own even when Herald_TEST_POSTGRES names an external one: that one cannot be restarted.
        await using var server = new PostgresServer(allowExternal: false);
        await server.StartAsync(Ct);
        var cs = await server.CreateDatabaseAsync("feed_restart", Ct);
        await using var b = await PostgresNodeAsync(cs);
        var heard = Subscribe(b, ChangeKinds.Templates);
        var feed = b.GetRequiredService<IChangeFeed>();
        await feed.Listening.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        await server.RestartAsync(Ct);

        // Every path may have lost messages meanwhile: the subscriber is told to converge once the listener is back.
        await heard.MessagesLost.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        Assert.Equal(1, heard.LostCount);

        // A node started after the restart (the first node's pooled connections died with the server) changes a template.
        await using var a = await PostgresNodeAsync(cs);
        var tenant = await a.GetRequiredService<ITenantStore>().CreateTenantAsync("t", Ct);
        await a.GetRequiredService<ITemplateStore>().SaveAsync(
            new Core.Templates.MessageTemplate(Guid.Empty, tenant.Id, "otp", Channel.Sms, null, null, "Code {{code}}", null, 0, default, default), Ct);
        await heard.WaitForAsync("*", ChangeFeed.Postgres, Ct);
    }

    private static async Task<ServiceProvider> PostgresNodeAsync(string connectionString)
    {
        var node = new ServiceCollection().AddSingleton(Protector).AddPostgresStorage(connectionString).BuildServiceProvider();
        await node.GetRequiredService<IStorageMigrator>().MigrateAsync(Ct);
        return node;
    }

    private static RecordingSubscriber Subscribe(IServiceProvider node, string kind)
    {
        var subscriber = new RecordingSubscriber(kind);
        node.GetRequiredService<IChangeFeed>().Subscribe(subscriber);
        return subscriber;
    }

    private static async Task NotifyInTransactionAsync(NpgsqlConnection conn, Change change, bool commit)
    {
        await using var tx = await conn.BeginTransactionAsync(Ct);
        await using (var cmd = new NpgsqlCommand("SELECT pg_notify($1, $2)", conn))
        {
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ChangeFeed.ChangesChannel });
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = change.Message });
            await cmd.ExecuteNonQueryAsync(Ct);
        }

        if (commit)
        {
            await tx.CommitAsync(Ct);
        }
        else
        {
            await tx.RollbackAsync(Ct);
        }
    }

    private static ProviderAccount Account(Guid tenantId, string name) =>
        new(Guid.CreateVersion7(), tenantId, Channel.Sms, "sms-http", name, """{"url": "http://127.0.0.1:1/"}""", 100, true, TimeProvider.System.GetUtcNow());
}
