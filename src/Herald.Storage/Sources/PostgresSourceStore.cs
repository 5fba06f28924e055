using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresSourceStore(NpgsqlDataSource dataSource) : ISourceStore
{
    private const string Columns = "id, tenant_id, name, adapter, settings::text, signing_secret, client_certificate, created_at, updated_at";

    public async Task<Source> CreateAsync(Source source, CancellationToken ct)
    {
        var stored = source with { CreatedAt = Utc(source.CreatedAt), UpdatedAt = Utc(source.UpdatedAt) };
        await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO sources (id, tenant_id, name, adapter, settings, signing_secret, client_certificate, created_at, updated_at)
                VALUES (@id, @tenant, @name, @adapter, @settings, @secret, @cert, @created, @updated)
                """, connection);
            Bind(cmd, stored);
            cmd.Parameters.Add(Param("created", stored.CreatedAt));
            return await cmd.ExecuteNonQueryAsync(ct);
        }, static n => n > 0, ct);
        return stored;
    }

    public async Task<Source?> GetAsync(Guid tenantId, Guid sourceId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM sources WHERE tenant_id = @tenant AND id = @id");
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("id", sourceId));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    public async Task<IReadOnlyList<Source>> ListAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM sources WHERE tenant_id = @tenant ORDER BY created_at, id");
        cmd.Parameters.Add(Param("tenant", tenantId));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<Source>();
        while (await r.ReadAsync(ct))
        {
            list.Add(Read(r));
        }

        return list;
    }

    public async Task<Source?> UpdateAsync(Source source, CancellationToken ct)
    {
        return await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand(
                $"""
                UPDATE sources SET name = @name, adapter = @adapter, settings = @settings, signing_secret = @secret,
                    client_certificate = @cert, updated_at = @updated
                WHERE tenant_id = @tenant AND id = @id
                RETURNING {Columns}
                """, connection);
            Bind(cmd, source with { UpdatedAt = Utc(source.UpdatedAt) });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            return await r.ReadAsync(ct) ? Read(r) : null;
        }, static s => s is not null, ct);
    }

    public async Task<bool> DeleteAsync(Guid tenantId, Guid sourceId, CancellationToken ct)
    {
        return await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand("DELETE FROM sources WHERE tenant_id = @tenant AND id = @id", connection);
            cmd.Parameters.Add(Param("tenant", tenantId));
            cmd.Parameters.Add(Param("id", sourceId));
            return await cmd.ExecuteNonQueryAsync(ct) > 0;
        }, static deleted => deleted, ct);
    }

    public async Task<bool> TryUseSignatureAsync(Guid sourceId, byte[] signature, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        var use = new NpgsqlBatchCommand(
            """
            INSERT INTO source_signatures (source_id, signature, expires_at) VALUES (@source, @signature, @expires)
            ON CONFLICT (source_id, signature) DO UPDATE SET expires_at = EXCLUDED.expires_at
            WHERE source_signatures.expires_at <= @now
            """);
        use.Parameters.Add(Param("source", sourceId));
        use.Parameters.Add(Param("signature", signature));
        use.Parameters.Add(Param("expires", Utc(expiresAt)));
        use.Parameters.Add(Param("now", Utc(now)));
        var sweep = new NpgsqlBatchCommand(
            """
            DELETE FROM source_signatures WHERE ctid IN (
                SELECT ctid FROM source_signatures WHERE expires_at <= @now LIMIT 100 FOR UPDATE SKIP LOCKED)
            """);
        sweep.Parameters.Add(Param("now", Utc(now)));
        batch.BatchCommands.Add(use);
        batch.BatchCommands.Add(sweep);
        await batch.ExecuteNonQueryAsync(ct);
        return use.RecordsAffected > 0;
    }

    private static void Bind(NpgsqlCommand cmd, Source s)
    {
        cmd.Parameters.Add(Param("id", s.Id));
        cmd.Parameters.Add(Param("tenant", s.TenantId));
        cmd.Parameters.Add(Param("name", s.Name));
        cmd.Parameters.Add(Param("adapter", s.Adapter));
        cmd.Parameters.Add(Param("settings", NpgsqlDbType.Jsonb, s.Settings));
        cmd.Parameters.Add(new NpgsqlParameter<string?>("secret", NpgsqlDbType.Text) { TypedValue = s.SigningSecret });
        cmd.Parameters.Add(new NpgsqlParameter<string?>("cert", NpgsqlDbType.Text) { TypedValue = s.ClientCertificate });
        cmd.Parameters.Add(Param("updated", s.UpdatedAt));
    }

    private static Source Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetGuid(1), r.GetString(2), r.GetString(3), r.GetString(4), NullableString(r, 5), NullableString(r, 6),
        r.GetFieldValue<DateTimeOffset>(7), r.GetFieldValue<DateTimeOffset>(8));
}
