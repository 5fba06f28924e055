using Herald.Core.Notifications;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresTenantStore(NpgsqlDataSource dataSource, ChangeFeed changes, TimeProvider time) : ITenantStore
{
    private const string ApiKeyColumns = "id, tenant_id, source_id, roles, key_hash, prefix, created_at, revoked_at, name, expires_at, last_used_at";

    public async Task<Tenant> CreateTenantAsync(string name, CancellationToken ct)
    {
        var now = Utc(time.GetUtcNow());
        var tenant = new Tenant(TimeOrderedIds.New(now), name, now);
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

    public Task<ApiKey> CreateApiKeyAsync(
        Guid tenantId, Guid? sourceId, IReadOnlyList<string> roles, byte[] keyHash, string prefix, CancellationToken ct) =>
        CreateApiKeyAsync(new NewApiKey(tenantId, "key " + prefix, roles, sourceId, null, keyHash, prefix), ct);

    public async Task<ApiKey> CreateApiKeyAsync(NewApiKey create, CancellationToken ct)
    {
        var now = Utc(time.GetUtcNow());
        var key = new ApiKey(TimeOrderedIds.New(now), create.TenantId, create.SourceId, [.. create.Roles], [.. create.KeyHash], create.Prefix, now, null)
        {
            Name = create.Name,
            ExpiresAt = Utc(create.ExpiresAt),
        };
        return await changes.WriteAsync(async connection =>
        {
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO api_keys (id, tenant_id, source_id, roles, key_hash, prefix, created_at, name, expires_at)
                VALUES (@id, @tenant, @source, @roles, @hash, @prefix, @created, @name, @expires)
                """,
                connection);
            cmd.Parameters.Add(Param("id", key.Id));
            cmd.Parameters.Add(Param("tenant", key.TenantId));
            cmd.Parameters.Add(Param("source", NpgsqlDbType.Uuid, key.SourceId));
            cmd.Parameters.Add(Param("roles", key.Roles.ToArray()));
            cmd.Parameters.Add(Param("hash", key.KeyHash));
            cmd.Parameters.Add(Param("prefix", key.Prefix));
            cmd.Parameters.Add(Param("created", now));
            cmd.Parameters.Add(Param("name", key.Name));
            cmd.Parameters.Add(Param("expires", NpgsqlDbType.TimestampTz, key.ExpiresAt));
            await cmd.ExecuteNonQueryAsync(ct);
            return (key, (Change?)StoreChanges.ApiKey(key.TenantId, key.Id));
        }, ct);
    }

    public async Task<ApiKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {ApiKeyColumns} FROM api_keys WHERE key_hash = @hash AND revoked_at IS NULL");
        cmd.Parameters.Add(Param("hash", keyHash));
        return await cmd.ReadFirstAsync(ReadApiKey, ct);
    }

    public async Task<IReadOnlyList<ApiKey>> ListApiKeysAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {ApiKeyColumns} FROM api_keys WHERE tenant_id = @tenant ORDER BY created_at, id");
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await cmd.ReadAllAsync(ReadApiKey, ct);
    }

    public async Task<ApiKeyRevocation> RevokeApiKeyAsync(Guid tenantId, Guid keyId, bool keepAnAdminKey, CancellationToken ct)
    {
        var now = Utc(time.GetUtcNow());
        return await changes.WriteAsync(async connection =>
        {
            // The tenant's row is the lock that serialises its revocations: two admins revoking each other's keys at
            // once must not both see the other's key as the one that remains.
            await using (var lockTenant = new NpgsqlCommand("SELECT 1 FROM tenants WHERE id = @tenant FOR UPDATE", connection))
            {
                lockTenant.Parameters.Add(Param("tenant", tenantId));
                await lockTenant.ExecuteNonQueryAsync(ct);
            }

            await using var cmd = new NpgsqlCommand(
                $"""
                SELECT revoked_at IS NOT NULL,
                       '{Roles.Admin}' = ANY (roles) AND (expires_at IS NULL OR expires_at > @now),
                       (SELECT count(*) FROM api_keys o
                        WHERE o.tenant_id = @tenant AND o.id <> @id AND o.revoked_at IS NULL
                          AND '{Roles.Admin}' = ANY (o.roles) AND (o.expires_at IS NULL OR o.expires_at > @now))
                FROM api_keys WHERE tenant_id = @tenant AND id = @id
                """,
                connection);
            cmd.Parameters.Add(Param("tenant", tenantId));
            cmd.Parameters.Add(Param("id", keyId));
            cmd.Parameters.Add(Param("now", now));
            (bool Revoked, bool UsableAdmin, long OtherAdmins) state;
            await using (var r = await cmd.ExecuteReaderAsync(ct))
            {
                if (!await r.ReadAsync(ct))
                {
                    return (ApiKeyRevocation.NotFound, (Change?)null);
                }

                state = (r.GetBoolean(0), r.GetBoolean(1), r.GetInt64(2));
            }

            if (state.Revoked)
            {
                return (ApiKeyRevocation.Revoked, null);
            }

            if (keepAnAdminKey && state.UsableAdmin && state.OtherAdmins == 0)
            {
                return (ApiKeyRevocation.LastAdminKey, null);
            }

            await using var revoke = new NpgsqlCommand("UPDATE api_keys SET revoked_at = @now WHERE tenant_id = @tenant AND id = @id", connection);
            revoke.Parameters.Add(Param("tenant", tenantId));
            revoke.Parameters.Add(Param("id", keyId));
            revoke.Parameters.Add(Param("now", now));
            await revoke.ExecuteNonQueryAsync(ct);
            return (ApiKeyRevocation.Revoked, StoreChanges.ApiKey(tenantId, keyId));
        }, ct);
    }

    public async Task TouchApiKeysAsync(IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> uses, CancellationToken ct)
    {
        if (uses.Count == 0)
        {
            return;
        }

        await using var cmd = dataSource.CreateCommand(
            """
            UPDATE api_keys k SET last_used_at = u.at
            FROM unnest(@ids, @ats) AS u (id, at)
            WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)
            """);
        cmd.Parameters.Add(Param("ids", uses.Select(u => u.Key).ToArray()));
        cmd.Parameters.Add(Param("ats", uses.Select(u => Utc(u.Value)).ToArray()));
        await cmd.ExecuteNonQueryAsync(ct);
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

    private static ApiKey ReadApiKey(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GetGuid(1), NullableGuid(r, 2), r.GetFieldValue<string[]>(3), r.GetFieldValue<byte[]>(4), r.GetString(5),
            r.GetFieldValue<DateTimeOffset>(6), NullableTime(r, 7))
        {
            Name = r.GetString(8),
            ExpiresAt = NullableTime(r, 9),
            LastUsedAt = NullableTime(r, 10),
        };

    private static Tenant ReadTenant(NpgsqlDataReader r) => new(r.GetGuid(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2));
}
