using Npgsql;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Secrets;

internal sealed class PostgresTenantKeyStore(NpgsqlDataSource dataSource) : ITenantKeyStore
{
    private const string LoadSql = "SELECT version, wrapped FROM tenant_keys WHERE tenant_id = @tenant ORDER BY version";

    public async Task<IReadOnlyList<StoredTenantKey>> LoadAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(LoadSql);
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await cmd.ReadAllAsync(static r => new StoredTenantKey(r.GetInt32(0), r.GetString(1)), ct);
    }

    public IReadOnlyList<StoredTenantKey> Load(Guid tenantId)
    {
        using var cmd = dataSource.CreateCommand(LoadSql);
        cmd.Parameters.Add(Param("tenant", tenantId));
        using var r = cmd.ExecuteReader();
        var keys = new List<StoredTenantKey>();
        while (r.Read())
        {
            keys.Add(new StoredTenantKey(r.GetInt32(0), r.GetString(1)));
        }

        return keys;
    }

    public async Task AddAsync(Guid tenantId, IReadOnlyList<StoredTenantKey> keys, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO tenant_keys (tenant_id, version, wrapped, created_at)
            SELECT @tenant, k.version, k.wrapped, @now FROM unnest(@versions, @wrapped) AS k(version, wrapped)
            ON CONFLICT (tenant_id, version) DO NOTHING
            """);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("now", Utc(now)));
        cmd.Parameters.Add(Array("versions", NpgsqlTypes.NpgsqlDbType.Integer, keys.Select(k => k.Version).ToArray()));
        cmd.Parameters.Add(Array("wrapped", NpgsqlTypes.NpgsqlDbType.Text, keys.Select(k => k.Wrapped).ToArray()));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<IReadOnlyList<Guid>> TenantsAsync(Guid? after, int max, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT DISTINCT tenant_id FROM tenant_keys WHERE tenant_id > @after ORDER BY tenant_id LIMIT @max");
        cmd.Parameters.Add(Param("after", after ?? Guid.Empty));
        cmd.Parameters.Add(Param("max", max));
        return await cmd.ReadAllAsync(static r => r.GetGuid(0), ct);
    }

    public async Task UpdateWrappedAsync(Guid tenantId, int version, string wrapped, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("UPDATE tenant_keys SET wrapped = @wrapped WHERE tenant_id = @tenant AND version = @version");
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("version", version));
        cmd.Parameters.Add(Param("wrapped", wrapped));
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
