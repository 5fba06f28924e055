using Herald.Core.Notifications;
namespace Herald.Storage.Sqlite;

internal sealed class SqliteTenantStore(SqliteDatabase db, ChangeFeed changes) : ITenantStore
{
    private const string ApiKeyColumns = "id, tenant_id, source_id, roles, key_hash, prefix, created_at, revoked_at, name, expires_at, last_used_at";

    public async Task<Tenant> CreateTenantAsync(string name, CancellationToken ct)
    {
        var now = db.Time.GetUtcNow();
        var tenant = new Tenant(TimeOrderedIds.New(now), name, SqliteValues.Time(SqliteValues.Ms(now)));
        await db.WriteAsync(
            scope =>
            {
                scope.Command("INSERT INTO tenants (id, name, created_at) VALUES ($id, $name, $at)")
                    .Set("$id", SqliteValues.Id(tenant.Id)).Set("$name", name).Set("$at", SqliteValues.Ms(tenant.CreatedAt))
                    .ExecuteNonQuery();
                SqliteAuditStore.AppendPending(scope, SqliteValues.Id(tenant.Id));
                return 1;
            },
            ct).ConfigureAwait(false);
        return tenant;
    }

    public Task<Tenant?> GetTenantAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT id, name, created_at FROM tenants WHERE id = $id";
                command.Set("$id", SqliteValues.Id(tenantId));
                return command.ReadFirst(ReadTenant);
            },
            ct);

    public Task<IReadOnlyList<Tenant>> ListTenantsAsync(CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<Tenant>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT id, name, created_at FROM tenants ORDER BY created_at, id";
                return command.ReadAll(ReadTenant);
            },
            ct);

    public Task<ApiKey> CreateApiKeyAsync(Guid tenantId, Guid? sourceId, IReadOnlyList<string> roles, byte[] keyHash, string prefix, CancellationToken ct) =>
        CreateApiKeyAsync(new NewApiKey(tenantId, "key " + prefix, roles, sourceId, null, keyHash, prefix), ct);

    public async Task<ApiKey> CreateApiKeyAsync(NewApiKey create, CancellationToken ct)
    {
        var now = db.Time.GetUtcNow();
        var key = new ApiKey(TimeOrderedIds.New(now), create.TenantId, create.SourceId, [.. create.Roles], [.. create.KeyHash], create.Prefix, SqliteValues.Time(SqliteValues.Ms(now)), null)
        {
            Name = create.Name,
            ExpiresAt = create.ExpiresAt is { } expires ? SqliteValues.Time(SqliteValues.Ms(expires)) : null,
        };
        await db.WriteAsync(
            scope =>
            {
                scope.Command(
                        $"INSERT INTO api_keys ({ApiKeyColumns}) VALUES ($id, $tenant, $source, $roles, $hash, $prefix, $at, NULL, $name, $expires, NULL)")
                    .Set("$id", SqliteValues.Id(key.Id))
                    .Set("$tenant", SqliteValues.Id(key.TenantId))
                    .Set("$source", SqliteValues.Id(key.SourceId))
                    .Set("$roles", SqliteJson.Roles(key.Roles))
                    .Set("$hash", key.KeyHash)
                    .Set("$prefix", key.Prefix)
                    .Set("$at", SqliteValues.Ms(key.CreatedAt))
                    .Set("$name", key.Name)
                    .Set("$expires", SqliteValues.Ms(key.ExpiresAt))
                    .ExecuteNonQuery();
                // The request's audit entry (key.create), in this transaction.
                SqliteAuditStore.AppendPending(scope, SqliteValues.Id(key.Id));
                return 1;
            },
            ct).ConfigureAwait(false);
        await changes.CommittedAsync(StoreChanges.ApiKey(key.TenantId, key.Id)).ConfigureAwait(false);
        return key;
    }

    public Task<ApiKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {ApiKeyColumns} FROM api_keys WHERE key_hash = $hash AND revoked_at IS NULL";
                command.Set("$hash", keyHash);
                return command.ReadFirst(ReadApiKey);
            },
            ct);

    public Task<IReadOnlyList<ApiKey>> ListApiKeysAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<ApiKey>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {ApiKeyColumns} FROM api_keys WHERE tenant_id = $tenant ORDER BY created_at, id";
                command.Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadAll(ReadApiKey);
            },
            ct);

    public async Task<ApiKeyRevocation> RevokeApiKeyAsync(Guid tenantId, Guid keyId, bool keepAnAdminKey, CancellationToken ct)
    {
        var now = db.Time.GetUtcNow();
        // One writer: the check and the revocation cannot interleave with another revocation.
        var outcome = await db.WriteAsync(
            scope =>
            {
                var keys = scope.Command($"SELECT {ApiKeyColumns} FROM api_keys WHERE tenant_id = $tenant AND revoked_at IS NULL")
                    .Set("$tenant", SqliteValues.Id(tenantId)).ReadAll(ReadApiKey);
                if (keys.Find(k => k.Id == keyId) is not { } key)
                {
                    var revoked = scope.Command("SELECT count(*) FROM api_keys WHERE tenant_id = $tenant AND id = $id")
                        .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", SqliteValues.Id(keyId)).ExecuteScalar() is long n && n > 0;
                    return (revoked ? ApiKeyRevocation.Revoked : ApiKeyRevocation.NotFound, Changed: false);
                }

                static bool UsableAdmin(ApiKey k, DateTimeOffset now) => k.Roles.Contains(Roles.Admin) && !k.ExpiredAt(now);
                if (keepAnAdminKey && UsableAdmin(key, now) && !keys.Exists(k => k.Id != keyId && UsableAdmin(k, now)))
                {
                    return (ApiKeyRevocation.LastAdminKey, Changed: false);
                }

                scope.Command("UPDATE api_keys SET revoked_at = $now WHERE id = $id")
                    .Set("$now", SqliteValues.Ms(now)).Set("$id", SqliteValues.Id(keyId)).ExecuteNonQuery();
                // The request's audit entry (key.revoke), in this transaction.
                SqliteAuditStore.AppendPending(scope, SqliteValues.Id(keyId));
                return (ApiKeyRevocation.Revoked, Changed: true);
            },
            ct).ConfigureAwait(false);
        if (outcome.Changed)
        {
            await changes.CommittedAsync(StoreChanges.ApiKey(tenantId, keyId)).ConfigureAwait(false);
        }

        return outcome.Item1;
    }

    public async Task TouchApiKeysAsync(IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> uses, CancellationToken ct)
    {
        if (uses.Count == 0)
        {
            return;
        }

        // Not durable: losing the last minute of "last used" in a power cut is harmless.
        await db.WriteAsync(
            scope =>
            {
                var command = scope.Command("UPDATE api_keys SET last_used_at = $at WHERE id = $id AND (last_used_at IS NULL OR last_used_at < $at)");
                foreach (var (id, at) in uses)
                {
                    command.Set("$id", SqliteValues.Id(id)).Set("$at", SqliteValues.Ms(at)).ExecuteNonQuery();
                }

                return uses.Count;
            },
            ct,
            durable: false).ConfigureAwait(false);
    }

    private static ApiKey ReadApiKey(Microsoft.Data.Sqlite.SqliteDataReader r) =>
        new(r.GetId(0), r.GetId(1), r.GetIdOrNull(2), SqliteJson.Roles(r.GetString(3)), (byte[])r.GetValue(4), r.GetString(5), r.GetTime(6), r.GetTimeOrNull(7))
        {
            Name = r.GetString(8),
            ExpiresAt = r.GetTimeOrNull(9),
            LastUsedAt = r.GetTimeOrNull(10),
        };

    private static Tenant ReadTenant(Microsoft.Data.Sqlite.SqliteDataReader r) => new(r.GetId(0), r.GetString(1), r.GetTime(2));

    public Task<TenantLimits?> GetLimitsAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT weight, requests_per_second, notifications_per_second, backlog_limit FROM tenants WHERE id = $id";
                command.Set("$id", SqliteValues.Id(tenantId));
                return command.ReadFirst(
                    r => new TenantLimits(
                        r.GetInt32(0),
                        r.IsDBNull(1) ? null : r.GetDouble(1),
                        r.IsDBNull(2) ? null : r.GetDouble(2),
                        r.IsDBNull(3) ? null : r.GetInt64(3)));
            },
            ct);

    public Task<bool> SetLimitsAsync(Guid tenantId, TenantLimits limits, CancellationToken ct) =>
        db.WriteAsync(
            scope => SqliteAuditStore.Audited(scope, scope.Command(
                    """
                    UPDATE tenants SET weight = $weight, requests_per_second = $rps, notifications_per_second = $nps, backlog_limit = $backlog
                    WHERE id = $id
                    """)
                .Set("$id", SqliteValues.Id(tenantId))
                .Set("$weight", limits.Weight)
                .Set("$rps", limits.RequestsPerSecond)
                .Set("$nps", limits.NotificationsPerSecond)
                .Set("$backlog", limits.BacklogLimit)
                .ExecuteNonQuery()) == 1,
            ct);
}
