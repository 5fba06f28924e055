using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteSourceStore(SqliteDatabase db) : ISourceStore
{
    private const string Columns = "id, tenant_id, name, adapter, settings, signing_secret, client_certificate, created_at, updated_at";

    public async Task<Source> CreateAsync(Source source, CancellationToken ct)
    {
        var stored = source with { CreatedAt = Ms(source.CreatedAt), UpdatedAt = Ms(source.UpdatedAt) };
        await db.WriteAsync(
            scope => SqliteAuditStore.Audited(scope, Bind(scope.Command($"INSERT INTO sources ({Columns}) VALUES ($id, $tenant, $name, $adapter, $settings, $secret, $cert, $created, $updated)"), stored)
                .Set("$created", SqliteValues.Ms(stored.CreatedAt))
                .ExecuteNonQuery()),
            ct).ConfigureAwait(false);
        return stored;
    }

    public Task<Source?> GetAsync(Guid tenantId, Guid sourceId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM sources WHERE tenant_id = $tenant AND id = $id";
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", SqliteValues.Id(sourceId));
                return command.ReadFirst(Read);
            },
            ct);

    public Task<IReadOnlyList<Source>> ListAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<Source>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM sources WHERE tenant_id = $tenant ORDER BY created_at, id";
                command.Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadAll(Read);
            },
            ct);

    public Task<Source?> UpdateAsync(Source source, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var command = Bind(scope.Command(
                    $"""
                    UPDATE sources SET name = $name, adapter = $adapter, settings = $settings, signing_secret = $secret,
                        client_certificate = $cert, updated_at = $updated
                    WHERE tenant_id = $tenant AND id = $id
                    RETURNING {Columns}
                    """), source with { UpdatedAt = Ms(source.UpdatedAt) });
                var updated = command.ReadFirst(Read);
                if (updated is not null)
                {
                    SqliteAuditStore.AppendPending(scope);
                }

                return updated;
            },
            ct);

    public Task<bool> DeleteAsync(Guid tenantId, Guid sourceId, CancellationToken ct) =>
        db.WriteAsync(
            scope => SqliteAuditStore.Audited(scope, scope.Command("DELETE FROM sources WHERE tenant_id = $tenant AND id = $id")
                .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", SqliteValues.Id(sourceId))
                .ExecuteNonQuery()) > 0,
            ct);

    public Task<bool> TryUseSignatureAsync(Guid sourceId, byte[] signature, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var used = scope.Command(
                    """
                    INSERT INTO source_signatures (source_id, signature, expires_at) VALUES ($source, $signature, $expires)
                    ON CONFLICT (source_id, signature) DO UPDATE SET expires_at = excluded.expires_at
                    WHERE source_signatures.expires_at <= $now
                    """)
                    .Set("$source", SqliteValues.Id(sourceId))
                    .Set("$signature", signature)
                    .Set("$expires", SqliteValues.Ms(expiresAt))
                    .Set("$now", SqliteValues.Ms(now))
                    .ExecuteNonQuery() > 0;
                scope.Command("DELETE FROM source_signatures WHERE rowid IN (SELECT rowid FROM source_signatures WHERE expires_at <= $now LIMIT 100)")
                    .Set("$now", SqliteValues.Ms(now))
                    .ExecuteNonQuery();
                return used;
            },
            ct);

    private static DateTimeOffset Ms(DateTimeOffset time) => SqliteValues.Time(SqliteValues.Ms(time));

    private static SqliteCommand Bind(SqliteCommand command, Source s) => command
        .Set("$id", SqliteValues.Id(s.Id))
        .Set("$tenant", SqliteValues.Id(s.TenantId))
        .Set("$name", s.Name)
        .Set("$adapter", s.Adapter)
        .Set("$settings", s.Settings)
        .Set("$secret", SqliteValues.Text(s.SigningSecret))
        .Set("$cert", SqliteValues.Text(s.ClientCertificate))
        .Set("$updated", SqliteValues.Ms(s.UpdatedAt));

    private static Source Read(SqliteDataReader r) => new(
        r.GetId(0), r.GetId(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetStringOrNull(5), r.GetStringOrNull(6),
        r.GetTime(7), r.GetTime(8));
}
