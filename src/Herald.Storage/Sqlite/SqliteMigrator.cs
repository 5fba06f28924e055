namespace Herald.Storage.Sqlite;

/// <summary>Applies the embedded Sqlite/Migrations/*.sql scripts in name order, each in its own transaction.</summary>
internal sealed class SqliteMigrator(SqliteDatabase db) : IStorageMigrator
{
    private const string ResourcePrefix = "Herald.Storage.Sqlite.Migrations.";

    /// <summary>A script starting with this line rebuilds tables and runs with foreign keys off (checked before commit).</summary>
    private const string ForeignKeysOffMarker = "-- herald: foreign_keys off";

    private const string CreateLedger = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            id         TEXT    NOT NULL PRIMARY KEY,
            applied_at INTEGER NOT NULL
        )
        """;

    /// <summary>The migrations this build carries, by id (file name without .sql), in order.</summary>
    internal static IReadOnlyList<(string Id, string Sql)> Known { get; } = LoadKnown();

    public async Task MigrateAsync(CancellationToken ct)
    {
        await db.WriteAsync(scope => scope.OneOffNonQuery(CreateLedger), ct).ConfigureAwait(false);
        foreach (var (id, sql) in Known)
        {
            // Check and apply under the same write transaction, so two migrators never apply one script twice.
            await db.WriteAsync(
                scope =>
                {
                    using var check = scope.OneOff("SELECT count(*) FROM schema_migrations WHERE id = $id");
                    check.Set("$id", id);
                    if (Convert.ToInt64(check.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0)
                    {
                        return false;
                    }

                    scope.OneOffNonQuery(sql);
                    using var record = scope.OneOff("INSERT INTO schema_migrations (id, applied_at) VALUES ($id, $at)");
                    record.Set("$id", id).Set("$at", SqliteValues.Ms(db.Time.GetUtcNow()));
                    record.ExecuteNonQuery();
                    return true;
                },
                ct,
                foreignKeysOff: sql.StartsWith(ForeignKeysOffMarker, StringComparison.Ordinal)).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<string>> PendingAsync(CancellationToken ct)
    {
        var applied = await db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
                if (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
                {
                    return new HashSet<string>(StringComparer.Ordinal);
                }

                command.CommandText = "SELECT id FROM schema_migrations";
                return command.ReadAll(r => r.GetString(0)).ToHashSet(StringComparer.Ordinal);
            },
            ct).ConfigureAwait(false);
        return Known.Select(m => m.Id).Where(id => !applied.Contains(id)).ToList();
    }

    private static List<(string Id, string Sql)> LoadKnown()
    {
        var assembly = typeof(SqliteMigrator).Assembly;
        var list = new List<(string Id, string Sql)>();
        foreach (var name in assembly.GetManifestResourceNames()
                     .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
                     .Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)
                ?? throw new InvalidOperationException($"Migration resource {name} is missing.");
            using var reader = new StreamReader(stream);
            list.Add((name[ResourcePrefix.Length..^".sql".Length], reader.ReadToEnd()));
        }

        return list;
    }
}

/// <summary>Readiness probe: a trivial query on a reader connection.</summary>
internal sealed class SqliteHealth(SqliteDatabase db) : IStorageHealth
{
    public async Task<bool> IsReadyAsync(CancellationToken ct)
    {
        try
        {
            return await db.ReadAsync(
                connection =>
                {
                    using var command = connection.CreateCommand();
                    command.CommandText = "SELECT 1";
                    return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 1;
                },
                ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return false;
        }
    }
}
