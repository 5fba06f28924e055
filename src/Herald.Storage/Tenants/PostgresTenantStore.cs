using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresTenantStore(NpgsqlDataSource dataSource, TimeProvider time) : ITenantStore
{
    public async Task<Tenant> CreateTenantAsync(string name, CancellationToken ct)
    {
        var now = Utc(time.GetUtcNow());
        var tenant = new Tenant(Guid.CreateVersion7(now), name, now);
        await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand("INSERT INTO tenants (id, name, created_at) VALUES (@id, @name, @created)", connection);
            cmd.Parameters.Add(Param("id", tenant.Id));
            cmd.Parameters.Add(Param("name", name));
            cmd.Parameters.Add(Param("created", now));
            return await cmd.ExecuteNonQueryAsync(ct);
        }, static n => n > 0, ct, _ => tenant.Id.ToString("D"));
        return tenant;
    }

    public async Task<Tenant?> GetTenantAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT id, name, created_at FROM tenants WHERE id = @id");
        cmd.Parameters.Add(Param("id", tenantId));
        return await cmd.ReadFirstAsync(ReadTenant, ct);
    }

    public async Task<IReadOnlyList<Tenant>> ListTenantsAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT id, name, created_at FROM tenants ORDER BY created_at, id");
        return await cmd.ReadAllAsync(ReadTenant, ct);
    }

    public async Task<ApiKey> CreateApiKeyAsync(
        Guid tenantId, Guid? sourceId, IReadOnlyList<string> roles, byte[] keyHash, string prefix, CancellationToken ct)
    {
        var now = Utc(time.GetUtcNow());
        var key = new ApiKey(Guid.CreateVersion7(now), tenantId, sourceId, [.. roles], keyHash, prefix, now, null);
        await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO api_keys (id, tenant_id, source_id, roles, key_hash, prefix, created_at)
                VALUES (@id, @tenant, @source, @roles, @hash, @prefix, @created)
                """, connection);
            cmd.Parameters.Add(Param("id", key.Id));
            cmd.Parameters.Add(Param("tenant", tenantId));
            cmd.Parameters.Add(Param("source", NpgsqlDbType.Uuid, sourceId));
            cmd.Parameters.Add(Param("roles", roles.ToArray()));
            cmd.Parameters.Add(Param("hash", keyHash));
            cmd.Parameters.Add(Param("prefix", prefix));
            cmd.Parameters.Add(Param("created", now));
            return await cmd.ExecuteNonQueryAsync(ct);
        }, static n => n > 0, ct, _ => key.Id.ToString("D"));
        return key;
    }

    public async Task<ApiKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT id, tenant_id, source_id, roles, key_hash, prefix, created_at, revoked_at
            FROM api_keys WHERE key_hash = @hash AND revoked_at IS NULL
            """);
        cmd.Parameters.Add(Param("hash", keyHash));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct))
        {
            return null;
        }

        return new ApiKey(
            r.GetGuid(0),
            r.GetGuid(1),
            NullableGuid(r, 2),
            r.GetFieldValue<string[]>(3),
            r.GetFieldValue<byte[]>(4),
            r.GetString(5),
            r.GetFieldValue<DateTimeOffset>(6),
            NullableTime(r, 7));
    }

    public async Task<TenantLimits?> GetLimitsAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT weight, requests_per_second, notifications_per_second, backlog_limit FROM tenants WHERE id = @id");
        cmd.Parameters.Add(Param("id", tenantId));
        return await cmd.ReadFirstAsync(
            r => new TenantLimits(
                r.GetInt32(0),
                r.IsDBNull(1) ? null : r.GetDouble(1),
                r.IsDBNull(2) ? null : r.GetDouble(2),
                r.IsDBNull(3) ? null : r.GetInt64(3)),
            ct);
    }

    public async Task<bool> SetLimitsAsync(Guid tenantId, TenantLimits limits, CancellationToken ct)
    {
        return await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand(
                """
                UPDATE tenants SET weight = @weight, requests_per_second = @rps, notifications_per_second = @nps, backlog_limit = @backlog
                WHERE id = @id
                """, connection);
            cmd.Parameters.Add(Param("id", tenantId));
            cmd.Parameters.Add(Param("weight", limits.Weight));
            cmd.Parameters.Add(Param("rps", NpgsqlDbType.Double, limits.RequestsPerSecond));
            cmd.Parameters.Add(Param("nps", NpgsqlDbType.Double, limits.NotificationsPerSecond));
            cmd.Parameters.Add(Param("backlog", NpgsqlDbType.Bigint, limits.BacklogLimit));
            return await cmd.ExecuteNonQueryAsync(ct) == 1;
        }, static updated => updated, ct);
    }

    private static Tenant ReadTenant(NpgsqlDataReader r) => new(r.GetGuid(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2));
}
