using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresRuleStore(NpgsqlDataSource dataSource, ChangeFeed changes) : IRuleStore
{
    private const string Columns = "tenant_id, version, document, author, created_at, comment, rolled_back_from";
    private const int MaxAppendAttempts = 20;

    // The next number is computed in the insert; two concurrent appends that computed the same number collide on the
    // primary key, and the loser either reports the conflict (it expected a version) or tries again.
    private const string AppendSql =
        $"""
        INSERT INTO rule_sets ({Columns})
        SELECT @tenant, coalesce(max(version), 0) + 1, @document, @author, @created, @comment, @rolled_back_from
        FROM rule_sets WHERE tenant_id = @tenant
        HAVING @expected::bigint IS NULL OR coalesce(max(version), 0) = @expected::bigint
        RETURNING {Columns}
        """;

    public async Task<RuleSetVersion?> GetCurrentAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM rule_sets WHERE tenant_id = @tenant ORDER BY version DESC LIMIT 1");
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await ReadFirstAsync(cmd, ct);
    }

    public async Task<RuleSetVersion?> GetVersionAsync(Guid tenantId, long version, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM rule_sets WHERE tenant_id = @tenant AND version = @version");
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("version", version));
        return await ReadFirstAsync(cmd, ct);
    }

    public async Task<IReadOnlyList<RuleSetVersion>> ListVersionsAsync(Guid tenantId, long? before, int limit, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"SELECT {Columns} FROM rule_sets WHERE tenant_id = @tenant AND (@before::bigint IS NULL OR version < @before::bigint) ORDER BY version DESC LIMIT @limit");
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("before", NpgsqlDbType.Bigint, before));
        cmd.Parameters.Add(Param("limit", Math.Clamp(limit, 1, 200)));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<RuleSetVersion>();
        while (await r.ReadAsync(ct))
        {
            list.Add(Read(r));
        }

        return list;
    }

    public async Task<RuleSetVersion?> AppendAsync(RuleSetChange change, DateTimeOffset now, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await changes.WriteAsync(async connection =>
                {
                    await using var cmd = new NpgsqlCommand(AppendSql, connection);
                    cmd.Parameters.Add(Param("tenant", change.TenantId));
                    cmd.Parameters.Add(Param("document", change.Document));
                    cmd.Parameters.Add(Param("author", change.Author));
                    cmd.Parameters.Add(Param("created", Utc(now)));
                    cmd.Parameters.Add(Param("comment", NpgsqlDbType.Text, change.Comment));
                    cmd.Parameters.Add(Param("rolled_back_from", NpgsqlDbType.Bigint, change.RolledBackFrom));
                    cmd.Parameters.Add(Param("expected", NpgsqlDbType.Bigint, change.ExpectedVersion));
                    var stored = await ReadFirstAsync(cmd, ct);
                    return (stored, stored is null ? null : StoreChanges.Rules(stored));
                }, ct);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                if (change.ExpectedVersion is not null)
                {
                    return null;
                }

                if (attempt == MaxAppendAttempts)
                {
                    throw;
                }
            }
        }
    }

    public async Task<IReadOnlyDictionary<Guid, long>> CurrentVersionsAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT tenant_id, max(version) FROM rule_sets GROUP BY tenant_id");
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var versions = new Dictionary<Guid, long>();
        while (await r.ReadAsync(ct))
        {
            versions[r.GetGuid(0)] = r.GetInt64(1);
        }

        return versions;
    }

    private static async Task<RuleSetVersion?> ReadFirstAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    private static RuleSetVersion Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetFieldValue<DateTimeOffset>(4),
        NullableString(r, 5), r.IsDBNull(6) ? null : r.GetInt64(6));
}
