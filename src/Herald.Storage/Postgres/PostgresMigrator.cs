using System.Reflection;
using Npgsql;

namespace Herald.Storage.Postgres;

/// <summary>
/// Applies the embedded <c>Postgres/Migrations/*.sql</c> scripts in name order, once each, tracked in
/// <c>schema_migrations</c>. Each script runs in its own transaction under a transaction-scoped advisory lock, so
/// several nodes starting at once apply each script exactly once.
/// </summary>
public sealed class PostgresMigrator(NpgsqlDataSource dataSource) : IStorageMigrator
{
    private const string ResourcePrefix = "Herald.Storage.Postgres.Migrations.";
    // An arbitrary constant: the advisory lock key for "Herald schema migrations".
    private const long LockKey = 0x4865_7261_6c64_0001;

    private static readonly IReadOnlyList<(string Name, string Sql)> Migrations = LoadMigrations();

    public async Task MigrateAsync(CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        foreach (var (name, sql) in Migrations)
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            await using (var cmd = new NpgsqlCommand(
                """
                SELECT pg_advisory_xact_lock(@key);
                CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
                """, conn, tx))
            {
                cmd.Parameters.Add(PostgresRows.Param("key", LockKey));
                await cmd.ExecuteNonQueryAsync(ct);
            }

            await using (var check = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = @name)", conn, tx))
            {
                check.Parameters.Add(PostgresRows.Param("name", name));
                if ((bool)(await check.ExecuteScalarAsync(ct))!)
                {
                    await tx.CommitAsync(ct);
                    continue;
                }
            }

            await using (var apply = new NpgsqlCommand(sql, conn, tx))
            {
                await apply.ExecuteNonQueryAsync(ct);
            }

            await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (name) VALUES (@name)", conn, tx))
            {
                record.Parameters.Add(PostgresRows.Param("name", name));
                await record.ExecuteNonQueryAsync(ct);
            }

            await tx.CommitAsync(ct);
        }
    }

    public async Task<IReadOnlyList<string>> PendingAsync(CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand(
            "SELECT name FROM schema_migrations WHERE to_regclass('schema_migrations') IS NOT NULL", conn);
        var applied = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                applied.Add(reader.GetString(0));
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            // No migration has run yet.
        }

        return [.. Migrations.Select(m => m.Name).Where(n => !applied.Contains(n))];
    }

    private static List<(string Name, string Sql)> LoadMigrations()
    {
        var assembly = typeof(PostgresMigrator).Assembly;
        return
        [
            .. assembly.GetManifestResourceNames()
                .Where(r => r.StartsWith(ResourcePrefix, StringComparison.Ordinal) && r.EndsWith(".sql", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal)
                .Select(r => (r[ResourcePrefix.Length..^".sql".Length], Read(assembly, r))),
        ];
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Missing migration resource {resource}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
