namespace Herald.Storage.Sqlite;

internal sealed class SqliteRuleStore(SqliteDatabase db, ChangeFeed changes) : IRuleStore
{
    private const string Columns = "tenant_id, version, document, author, created_at, comment, rolled_back_from";

    public Task<RuleSetVersion?> GetCurrentAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM rule_sets WHERE tenant_id = $tenant ORDER BY version DESC LIMIT 1";
                command.Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadFirst(Read);
            },
            ct);

    public Task<RuleSetVersion?> GetVersionAsync(Guid tenantId, long version, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM rule_sets WHERE tenant_id = $tenant AND version = $version";
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$version", version);
                return command.ReadFirst(Read);
            },
            ct);

    public Task<IReadOnlyList<RuleSetVersion>> ListVersionsAsync(Guid tenantId, long? before, int limit, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<RuleSetVersion>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"""
                    SELECT {Columns} FROM rule_sets
                    WHERE tenant_id = $tenant AND ($before IS NULL OR version < $before)
                    ORDER BY version DESC LIMIT $limit
                    """;
                command.Set("$tenant", SqliteValues.Id(tenantId))
                    .Set("$before", before is { } b ? b : DBNull.Value)
                    .Set("$limit", Math.Clamp(limit, 1, 200));
                return command.ReadAll(Read);
            },
            ct);

    public async Task<RuleSetVersion?> AppendAsync(RuleSetChange change, DateTimeOffset now, CancellationToken ct)
    {
        // One writer at a time: reading the current number and inserting the next cannot interleave.
        var stored = await db.WriteAsync(
            scope =>
            {
                var tenant = SqliteValues.Id(change.TenantId);
                var current = (long)scope.Command("SELECT coalesce(max(version), 0) FROM rule_sets WHERE tenant_id = $tenant")
                    .Set("$tenant", tenant).ExecuteScalar()!;
                if (change.ExpectedVersion is { } expected && expected != current)
                {
                    return null;
                }

                var created = SqliteValues.Time(SqliteValues.Ms(now));
                scope.Command($"INSERT INTO rule_sets ({Columns}) VALUES ($tenant, $version, $document, $author, $created, $comment, $from)")
                    .Set("$tenant", tenant)
                    .Set("$version", current + 1)
                    .Set("$document", change.Document)
                    .Set("$author", change.Author)
                    .Set("$created", SqliteValues.Ms(created))
                    .Set("$comment", SqliteValues.Text(change.Comment))
                    .Set("$from", change.RolledBackFrom is { } from ? from : DBNull.Value)
                    .ExecuteNonQuery();
                SqliteAuditStore.AppendPending(scope, (current + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
                return new RuleSetVersion(change.TenantId, current + 1, change.Document, change.Author, created, change.Comment, change.RolledBackFrom);
            },
            ct).ConfigureAwait(false);
        if (stored is not null)
        {
            await changes.CommittedAsync(StoreChanges.Rules(stored)).ConfigureAwait(false);
        }

        return stored;
    }

    public Task<IReadOnlyDictionary<Guid, long>> CurrentVersionsAsync(CancellationToken ct) =>
        db.ReadAsync<IReadOnlyDictionary<Guid, long>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT tenant_id, max(version) FROM rule_sets GROUP BY tenant_id";
                using var reader = command.ExecuteReader();
                var versions = new Dictionary<Guid, long>();
                while (reader.Read())
                {
                    versions[reader.GetId(0)] = reader.GetInt64(1);
                }

                return versions;
            },
            ct);

    private static RuleSetVersion Read(Microsoft.Data.Sqlite.SqliteDataReader r) => new(
        r.GetId(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetTime(4), r.GetStringOrNull(5), r.IsDBNull(6) ? null : r.GetInt64(6));
}
