using Herald.Core.Notifications;
using Herald.Core.Routing;
using Npgsql;

namespace Herald.Storage.Tests;

/// <summary>Behaviour that only the PostgreSQL backend has or needs: plans under load, concurrency of migrators, SQL-level state.</summary>
public sealed class PostgresSpecificTests(PostgresFixture server) : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static int _counter;
    private string _connectionString = "";
    private StoreSet? _stores;

    private StoreSet S => _stores!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _connectionString = await server.CreateDatabaseAsync($"herald_pg_{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}", Ct);
        _stores = PostgresStores.Create(_connectionString);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stores is not null)
        {
            await _stores.DisposeAsync();
        }
    }

    private static PreparedNotification Item(Guid tenant, Priority priority, int sequence) => new(
        Guid.CreateVersion7(T0.AddTicks(sequence)),
        new NewNotification(tenant, null, "service.news", null, new Contacts(Phone: "+4915100000000"), "{}", priority, null, null, null, null),
        new Route(priority, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]));

    [Fact]
    public async Task Migrate_EightConcurrentStarters_ApplyEachMigrationOnce()
    {
        var migrators = Enumerable.Range(0, 8).Select(_ => PostgresStores.Create(_connectionString)).ToList();
        try
        {
            await Task.WhenAll(migrators.Select(m => Task.Run(() => m.Migrator.MigrateAsync(Ct), Ct)));
        }
        finally
        {
            foreach (var m in migrators)
            {
                await m.DisposeAsync();
            }
        }

        Assert.Empty(await S.Migrator.PendingAsync(Ct));
        await using var conn = new NpgsqlConnection(_connectionString);
        await conn.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand("SELECT count(*), count(DISTINCT name) FROM schema_migrations", conn);
        await using var r = await cmd.ExecuteReaderAsync(Ct);
        Assert.True(await r.ReadAsync(Ct));
        Assert.Equal(r.GetInt64(1), r.GetInt64(0));
        Assert.True(r.GetInt64(0) >= 1);
    }

    [Fact]
    public async Task Pending_FreshDatabase_ListsEveryMigration()
    {
        var pending = await S.Migrator.PendingAsync(Ct);
        Assert.Contains("0001_initial", pending);
    }

    [Fact]
    public async Task Claim_OneCriticalBehind50000DueLow_ReturnsCriticalFirst()
    {
        await S.Migrator.MigrateAsync(Ct);
        var tenant = (await S.Tenants.CreateTenantAsync("bank", Ct)).Id;
        for (var chunk = 0; chunk < 50; chunk++)
        {
            await S.Notifications.AcceptAsync([.. Enumerable.Range(chunk * 1000, 1000).Select(i => Item(tenant, Priority.Low, i))], T0, Ct);
        }

        var critical = Item(tenant, Priority.Critical, 1_000_000);
        await S.Notifications.AcceptAsync([critical], T0.AddSeconds(1), Ct);

        var claimed = await S.Delivery.ClaimAsync(10, TimeSpan.FromMinutes(1), T0.AddSeconds(2), Ct);

        Assert.Equal(critical.Id, claimed[0].Notification.Id);
        Assert.Equal(10, claimed.Count);
        Assert.All(claimed.Skip(1), c => Assert.Equal(Priority.Low, c.Notification.Priority));
        // Claimed entries stay queued under their lease until the worker applies a transition.
        Assert.Equal(new long[] { 1, 0, 0, 50_000 }, await S.Delivery.QueueDepthAsync(Ct));
    }

    [Fact]
    public async Task ClaimPlan_LowBacklog_UsesPerLaneAndTenantIndexRanges()
    {
        await S.Migrator.MigrateAsync(Ct);
        var tenant = (await S.Tenants.CreateTenantAsync("bank", Ct)).Id;
        await S.Notifications.AcceptAsync([.. Enumerable.Range(0, 5000).Select(i => Item(tenant, Priority.Low, i))], T0, Ct);
        await using var conn = new NpgsqlConnection(_connectionString);
        await conn.OpenAsync(Ct);
        await using (var analyze = new NpgsqlCommand("ANALYZE queue", conn))
        {
            await analyze.ExecuteNonQueryAsync(Ct);
        }

        await using var cmd = new NpgsqlCommand(
            $"EXPLAIN SELECT notification_id FROM queue WHERE lane = 0 AND tenant_id = '{tenant}' AND due_at <= now() ORDER BY due_at LIMIT 10 FOR UPDATE SKIP LOCKED", conn);
        var plan = new List<string>();
        await using (var r = await cmd.ExecuteReaderAsync(Ct))
        {
            while (await r.ReadAsync(Ct))
            {
                plan.Add(r.GetString(0));
            }
        }

        // The fair claim takes each tenant's oldest due entries of a lane (issue #13): one range of queue_fair.
        Assert.Contains(plan, line => line.Contains("queue_fair", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FindApiKey_Revoked_ReturnsNull()
    {
        await S.Migrator.MigrateAsync(Ct);
        var tenant = (await S.Tenants.CreateTenantAsync("bank", Ct)).Id;
        var hash = System.Security.Cryptography.SHA256.HashData("k"u8);
        await S.Tenants.CreateApiKeyAsync(tenant, null, [Roles.Admin], hash, "hk_", Ct);
        Assert.NotNull(await S.Tenants.FindApiKeyAsync(hash, Ct));

        await using var conn = new NpgsqlConnection(_connectionString);
        await conn.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand("UPDATE api_keys SET revoked_at = now()", conn);
        await cmd.ExecuteNonQueryAsync(Ct);

        Assert.Null(await S.Tenants.FindApiKeyAsync(hash, Ct));
    }

    [Theory]
    [InlineData("notifications")]
    [InlineData("customer_messages")]
    public async Task Reencryption_BatchSelect_WalksThePrimaryKey_NotASortOfTheRest(string table)
    {
        // A sort above the scan reads every row past the cursor for each batch of 1,000: a 1,000,000-row table never
        // finished. Plans depend on statistics, so the table is filled and analysed first.
        await S.Migrator.MigrateAsync(Ct);
        var tenant = (await S.Tenants.CreateTenantAsync("bank", Ct)).Id;
        for (var chunk = 0; chunk < 10; chunk++)
        {
            await S.Notifications.AcceptAsync([.. Enumerable.Range(chunk * 1000, 1000).Select(i => Item(tenant, Priority.Low, i))], T0, Ct);
        }

        await using var conn = new NpgsqlConnection(_connectionString);
        await conn.OpenAsync(Ct);
        await using (var fill = new NpgsqlCommand(
            "INSERT INTO customer_messages (id, tenant_id, account_id, channel, sender, provider_message_id, late, received_at) SELECT id, tenant_id, tenant_id, 3, '', id::text, false, created_at FROM notifications", conn))
        {
            await fill.ExecuteNonQueryAsync(Ct);
        }

        await using (var analyze = new NpgsqlCommand("ANALYZE notifications, customer_messages", conn))
        {
            await analyze.ExecuteNonQueryAsync(Ct);
        }

        var select = table == "notifications" ? Postgres.PostgresReencryptionStore.SelectNotifications : Postgres.PostgresReencryptionStore.SelectMessages;
        await using var tx = await conn.BeginTransactionAsync(Ct);
        await using var explain = new NpgsqlCommand("EXPLAIN " + select, conn, tx);
        explain.Parameters.AddWithValue("after", Guid.Empty.ToString());
        explain.Parameters.AddWithValue("batch", 1000);
        var plan = new List<string>();
        await using (var r = await explain.ExecuteReaderAsync(Ct))
        {
            while (await r.ReadAsync(Ct))
            {
                plan.Add(r.GetString(0));
            }
        }

        var text = string.Join('\n', plan);
        Assert.DoesNotContain("Sort", text, StringComparison.Ordinal);
        Assert.Contains($"Index Scan using {table}_pkey", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_UnreachableServer_IsFalse()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        var stores = PostgresStores.Create($"Host=127.0.0.1;Port={port};Username=postgres;Timeout=1");
        await using var _ = stores;
        Assert.False(await stores.Health.IsReadyAsync(Ct));
    }
}
