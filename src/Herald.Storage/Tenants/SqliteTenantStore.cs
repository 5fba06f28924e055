namespace Herald.Storage.Sqlite;

internal sealed class SqliteTenantStore(SqliteDatabase db) : ITenantStore
{
    private const string ApiKeyColumns = "id, tenant_id, source_id, roles, key_hash, prefix, created_at, revoked_at";

    public async Task<Tenant> CreateTenantAsync(string name, CancellationToken ct)
    {
        var now = db.Time.GetUtcNow();
        var tenant = new Tenant(Guid.CreateVersion7(now), name, SqliteValues.Time(SqliteValues.Ms(now)));
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

    public async Task<ApiKey> CreateApiKeyAsync(Guid tenantId, Guid? sourceId, IReadOnlyList<string> roles, byte[] keyHash, string prefix, CancellationToken ct)
    {
        var now = db.Time.GetUtcNow();
        var key = new ApiKey(Guid.CreateVersion7(now), tenantId, sourceId, roles.ToArray(), keyHash.ToArray(), prefix, SqliteValues.Time(SqliteValues.Ms(now)), null);
        await db.WriteAsync(
            scope =>
            {
                scope.Command($"INSERT INTO api_keys ({ApiKeyColumns}) VALUES ($id, $tenant, $source, $roles, $hash, $prefix, $at, NULL)")
                    .Set("$id", SqliteValues.Id(key.Id))
                    .Set("$tenant", SqliteValues.Id(tenantId))
                    .Set("$source", SqliteValues.Id(sourceId))
                    .Set("$roles", SqliteJson.Roles(key.Roles))
                    .Set("$hash", key.KeyHash)
                    .Set("$prefix", prefix)
                    .Set("$at", SqliteValues.Ms(key.CreatedAt))
                    .ExecuteNonQuery();
                SqliteAuditStore.AppendPending(scope, SqliteValues.Id(key.Id));
                return 1;
            },
            ct).ConfigureAwait(false);
        return key;
    }

    public Task<ApiKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {ApiKeyColumns} FROM api_keys WHERE key_hash = $hash AND revoked_at IS NULL";
                command.Set("$hash", keyHash);
                return command.ReadFirst(r => new ApiKey(
                    r.GetId(0),
                    r.GetId(1),
                    r.GetIdOrNull(2),
                    SqliteJson.Roles(r.GetString(3)),
                    (byte[])r.GetValue(4),
                    r.GetString(5),
                    r.GetTime(6),
                    r.GetTimeOrNull(7)));
            },
            ct);

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
