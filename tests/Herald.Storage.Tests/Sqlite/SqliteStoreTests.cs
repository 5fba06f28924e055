using Herald.Core.Notifications;
using Herald.Core.Routing;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Tests.Sqlite;

/// <summary>What only the SQLite store promises: file handling, pragmas, its own schema.</summary>
public sealed class SqliteStoreTests : IAsyncLifetime
{
    private readonly SqliteTestBackend _backend = new();
    private StoreSet _stores = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _stores = _backend.Open();
        await _stores.Migrator.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _stores.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public void AddSqliteStorage_MissingFolder_CreatesFolderAndFile()
    {
        Assert.True(File.Exists(_backend.DatabasePath));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task DatabaseFile_AndItsWalAndShm_AreReadableByTheOwnerOnly()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes");
        // A write, so the -wal and -shm files exist.
        await _stores.Tenants.CreateTenantAsync("Bank", Ct);

        foreach (var file in new[] { _backend.DatabasePath, _backend.DatabasePath + "-wal", _backend.DatabasePath + "-shm" })
        {
            Assert.True(File.Exists(file), file);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task ExistingDatabaseReadableByOthers_IsNarrowedToTheOwner_WhenOpened()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes");
        await _stores.Tenants.CreateTenantAsync("Bank", Ct);
        const UnixFileMode worldReadable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        File.SetUnixFileMode(_backend.DatabasePath, worldReadable);
        File.SetUnixFileMode(_backend.DatabasePath + "-wal", worldReadable);

        await using var reopened = _backend.Open();
        await reopened.Tenants.ListTenantsAsync(Ct);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_backend.DatabasePath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_backend.DatabasePath + "-wal"));
    }

    [Fact]
    public async Task PendingAsync_FreshDatabase_ListsEveryMigrationInOrder()
    {
        await using var other = new SqliteTestBackend();
        await using var stores = other.Open();

        // Every embedded script, in name order (new features add scripts, so the list is read, not written out).
        const string prefix = "Herald.Storage.Sqlite.Migrations.";
        var embedded = typeof(IStorageMigrator).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => n[prefix.Length..^".sql".Length])
            .Order(StringComparer.Ordinal)
            .ToList();
        var pending = await stores.Migrator.PendingAsync(Ct);
        Assert.Equal(embedded, pending);
        Assert.Equal(["0001_initial", "0002_notifications_no_tenant_fk", "0003_provider_rate"], pending.Take(3));
        await stores.Migrator.MigrateAsync(Ct);
        Assert.Empty(await stores.Migrator.PendingAsync(Ct));
    }

    [Fact]
    public async Task MigrateAsync_AppliedOnce_RecordedInSchemaMigrations()
    {
        await _stores.Migrator.MigrateAsync(Ct);

        Assert.Equal(1L, Scalar("SELECT count(*) FROM schema_migrations WHERE id = '0001_initial'"));
    }

    [Fact]
    public async Task Database_AfterWrite_IsInWalMode()
    {
        await _stores.Tenants.CreateTenantAsync("Bank", Ct);

        Assert.Equal("wal", Scalar("PRAGMA journal_mode"));
    }

    [Fact]
    public async Task FindApiKeyAsync_RevokedKey_ReturnsNull()
    {
        var tenant = await _stores.Tenants.CreateTenantAsync("Bank", Ct);
        byte[] hash = [1, 2, 3, 4];
        var key = await _stores.Tenants.CreateApiKeyAsync(tenant.Id, null, [Roles.Admin], hash, "hk_1", Ct);
        Assert.NotNull(await _stores.Tenants.FindApiKeyAsync(hash, Ct));

        Execute($"UPDATE api_keys SET revoked_at = 1 WHERE id = '{key.Id}'");

        Assert.Null(await _stores.Tenants.FindApiKeyAsync(hash, Ct));
    }

    [Fact]
    public async Task IsReadyAsync_UnreadableFile_ReturnsFalse()
    {
        await using var broken = new SqliteTestBackend();
        await using (var first = broken.Open())
        {
            await first.Migrator.MigrateAsync(Ct);
        }

        await File.WriteAllTextAsync(broken.DatabasePath, "this is not a database file, not at all, definitely not", Ct);
        await using var stores = broken.Open();

        Assert.False(await stores.Health.IsReadyAsync(Ct));
    }

    [Fact]
    public async Task AcceptAsync_ItemFails_WholeBatchRolledBackAndWriterStillUsable()
    {
        var tenant = (await _stores.Tenants.CreateTenantAsync("Bank", Ct)).Id;
        var (a, b) = (Guid.CreateVersion7(), Guid.CreateVersion7());

        // The repeated id violates the primary key on the third item.
        await Assert.ThrowsAsync<SqliteException>(() => _stores.Notifications.AcceptAsync([Item(tenant, a), Item(tenant, b), Item(tenant, a)], T0, Ct));

        Assert.Null(await _stores.Notifications.GetAsync(tenant, a, Ct));
        Assert.Null(await _stores.Notifications.GetAsync(tenant, b, Ct));
        Assert.Equal(new long[4], await _stores.Delivery.QueueDepthAsync(Ct));
        var retry = await _stores.Notifications.AcceptAsync([Item(tenant, a), Item(tenant, b)], T0, Ct);
        Assert.All(retry, r => Assert.True(r.Created));
    }

    [Fact]
    public async Task MigrateAsync_From0001WithData_DropsTenantForeignKeyAndKeepsRowsAndReferences()
    {
        await using var old = new SqliteTestBackend();
        Guid tenant;
        var id = Guid.CreateVersion7();
        await using (var first = old.Open())
        {
            await first.Migrator.MigrateAsync(Ct);
            tenant = (await first.Tenants.CreateTenantAsync("Bank", Ct)).Id;
            await first.Notifications.AcceptAsync([Item(tenant, id)], T0, Ct);
            await first.Delivery.BeginAttemptsAsync(
                [new Attempt { Id = Guid.CreateVersion7(), NotificationId = id, Step = 0, Channel = Channel.Sms, State = AttemptState.Sending, CreatedAt = T0 }], Ct);
        }

        // Back to the notifications table of 0001, with its foreign key to tenants, as an earlier build left it.
        using (var connection = new SqliteConnection($"Data Source={old.DatabasePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                PRAGMA foreign_keys = OFF;
                CREATE TABLE n_copy AS SELECT * FROM notifications;
                DROP TABLE notifications;
                CREATE TABLE notifications (
                    id TEXT NOT NULL PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants (id), source_id TEXT, type TEXT NOT NULL,
                    customer_id TEXT, contacts TEXT NOT NULL, data TEXT NOT NULL, priority INTEGER NOT NULL, expires_at INTEGER,
                    external_id TEXT, dedupe_key TEXT, route TEXT NOT NULL, status INTEGER NOT NULL, channel INTEGER,
                    step INTEGER NOT NULL, retries INTEGER NOT NULL, awaited_attempt_id TEXT, version INTEGER NOT NULL,
                    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                INSERT INTO notifications SELECT id, tenant_id, source_id, type, customer_id, contacts, data, priority, expires_at,
                    external_id, dedupe_key, route, status, channel, step, retries, awaited_attempt_id, version, created_at, updated_at
                    FROM n_copy;
                DROP TABLE n_copy;
                -- That build had neither 0002 nor the later columns of 0015 (the request fingerprint, issue #13), 0024
                -- (reply actions, issue #16), 0027 (the traceparent, issue #18) and 0031 (encryption at rest, issue #17).
                DROP TABLE tenant_keys;
                DROP TABLE reencryption_progress;
                DROP INDEX customer_messages_sender_hash;
                ALTER TABLE customer_messages DROP COLUMN sealed;
                ALTER TABLE customer_messages DROP COLUMN sender_hash;
                ALTER TABLE customers DROP COLUMN sealed;
                DELETE FROM schema_migrations WHERE id IN ('0002_notifications_no_tenant_fk', '0015_request_hash', '0024_reply_actions', '0027_trace_parent',
                    '0031_encryption_at_rest');
                """;
            command.ExecuteNonQuery();
        }

        Assert.Equal(1L, ScalarOn(old.DatabasePath, "SELECT count(*) FROM pragma_foreign_key_list('notifications')"));
        await using var stores = old.Open();
        await stores.Migrator.MigrateAsync(Ct);

        Assert.Empty(await stores.Migrator.PendingAsync(Ct));
        Assert.NotNull(await stores.Notifications.GetAsync(tenant, id, Ct));
        Assert.Single(await stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
        Assert.Equal(new long[] { 1, 0, 0, 0 }, await stores.Delivery.QueueDepthAsync(Ct));
        var unknownTenant = await stores.Notifications.AcceptAsync([Item(Guid.NewGuid(), Guid.CreateVersion7())], T0, Ct);
        Assert.True(Assert.Single(unknownTenant).Created);
        // The other foreign keys still hold.
        Assert.Equal(0L, ScalarOn(old.DatabasePath, "SELECT count(*) FROM pragma_foreign_key_check"));
        Assert.Equal(1L, ScalarOn(old.DatabasePath, "SELECT count(*) FROM pragma_foreign_key_list('attempts') WHERE \"table\" = 'notifications'"));
    }

    [Fact]
    public async Task BeginAttemptsAsync_UnknownNotification_Throws()
    {
        var attempt = new Attempt
        {
            Id = Guid.CreateVersion7(),
            NotificationId = Guid.CreateVersion7(),
            Step = 0,
            Channel = Channel.Sms,
            State = AttemptState.Sending,
            CreatedAt = T0,
        };

        await Assert.ThrowsAsync<InvalidOperationException>(() => _stores.Delivery.BeginAttemptsAsync([attempt], Ct));
    }

    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private static PreparedNotification Item(Guid tenant, Guid id) => new(
        id,
        new NewNotification(tenant, null, "otp", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null),
        new Route(Priority.Critical, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]));

    private object? Scalar(string sql) => ScalarOn(_backend.DatabasePath, sql);

    private static object? ScalarOn(string databasePath, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={_backend.DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
