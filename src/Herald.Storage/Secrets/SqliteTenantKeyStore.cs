using Herald.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Secrets;

internal sealed class SqliteTenantKeyStore(SqliteDatabase db) : ITenantKeyStore
{
    private const string LoadSql = "SELECT version, wrapped FROM tenant_keys WHERE tenant_id = $tenant ORDER BY version";

    public Task<IReadOnlyList<StoredTenantKey>> LoadAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<StoredTenantKey>>(connection => Read(connection, tenantId), ct);

    public IReadOnlyList<StoredTenantKey> Load(Guid tenantId)
    {
        // A connection of its own: the caller may hold a reader (WAL lets readers run beside each other and the writer).
        using var connection = new SqliteConnection(db.ConnectionString);
        connection.Open();
        return Read(connection, tenantId);
    }

    public Task AddAsync(Guid tenantId, IReadOnlyList<StoredTenantKey> keys, DateTimeOffset now, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var insert = scope.Command(
                    "INSERT INTO tenant_keys (tenant_id, version, wrapped, created_at) VALUES ($tenant, $version, $wrapped, $now) " +
                    "ON CONFLICT (tenant_id, version) DO NOTHING");
                foreach (var key in keys)
                {
                    insert.Set("$tenant", SqliteValues.Id(tenantId)).Set("$version", key.Version).Set("$wrapped", key.Wrapped)
                        .Set("$now", SqliteValues.Ms(now)).ExecuteNonQuery();
                }

                return 0;
            },
            ct);

    public Task<IReadOnlyList<Guid>> TenantsAsync(Guid? after, int max, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<Guid>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT DISTINCT tenant_id FROM tenant_keys WHERE tenant_id > $after ORDER BY tenant_id LIMIT $max";
                command.Set("$after", SqliteValues.Id(after ?? Guid.Empty)).Set("$max", max);
                return command.ReadAll(static r => r.GetId(0));
            },
            ct);

    public Task UpdateWrappedAsync(Guid tenantId, int version, string wrapped, CancellationToken ct) =>
        db.WriteAsync(
            scope => scope.Command("UPDATE tenant_keys SET wrapped = $wrapped WHERE tenant_id = $tenant AND version = $version")
                .Set("$tenant", SqliteValues.Id(tenantId)).Set("$version", version).Set("$wrapped", wrapped).ExecuteNonQuery(),
            ct);

    private static List<StoredTenantKey> Read(SqliteConnection connection, Guid tenantId)
    {
        using var command = connection.CreateCommand();
        command.CommandText = LoadSql;
        command.Set("$tenant", SqliteValues.Id(tenantId));
        return command.ReadAll(static r => new StoredTenantKey(r.GetInt32(0), r.GetString(1)));
    }
}
