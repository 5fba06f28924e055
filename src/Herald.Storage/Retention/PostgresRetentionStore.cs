using Npgsql;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresRetentionStore(NpgsqlDataSource dataSource) : IRetentionStore
{
    // Old rows by id range on the indexes the tables already have (ids are UUIDv7): notifications_tenant_id,
    // attempts_notification, the attempt_parts key and webhook_deliveries_tenant. One statement, one short transaction.
    private static readonly string PurgeSql =
        $"""
        WITH doomed AS (
            SELECT id FROM notifications
            WHERE tenant_id = @tenant AND id < @before AND {StateSql.Final("status")} AND (dedupe_key IS NULL OR id < @keys_before)
            ORDER BY id LIMIT @batch
        ), attempts_gone AS (
            DELETE FROM attempts WHERE notification_id IN (SELECT id FROM doomed) RETURNING id
        ), parts_gone AS (
            DELETE FROM attempt_parts WHERE attempt_id IN (SELECT id FROM attempts_gone)
        ), notifications_gone AS (
            DELETE FROM notifications WHERE id IN (SELECT id FROM doomed) RETURNING 1
        ), messages_gone AS (
            -- What customers sent in (issue #16), by id range on the primary key (ids are UUIDv7).
            DELETE FROM customer_messages WHERE id IN (
                SELECT id FROM customer_messages WHERE id < @before AND tenant_id = @tenant ORDER BY id LIMIT @batch)
        ), webhooks_gone AS (
            DELETE FROM webhook_deliveries WHERE id IN (
                SELECT id FROM webhook_deliveries
                WHERE tenant_id = @tenant AND id < @before AND state <> {StateSql.WebhookPending}
                ORDER BY id LIMIT @batch)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM notifications_gone)::int, (SELECT count(*) FROM attempts_gone)::int, (SELECT count(*) FROM webhooks_gone)::int
        """;

    public async Task<(bool Found, int? Days)> GetAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT retention_days FROM tenants WHERE id = @id");
        cmd.Parameters.Add(Param("id", tenantId));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (true, r.IsDBNull(0) ? null : r.GetInt32(0)) : (false, null);
    }

    public async Task<bool> SetAsync(Guid tenantId, int? days, CancellationToken ct)
    {
        return await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand("UPDATE tenants SET retention_days = @days WHERE id = @id", connection);
            cmd.Parameters.Add(Param("id", tenantId));
            cmd.Parameters.Add(new NpgsqlParameter<int?>("days", days) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
            return await cmd.ExecuteNonQueryAsync(ct) == 1;
        }, static updated => updated, ct);
    }

    public async Task<IReadOnlyList<(Guid TenantId, int? Days)>> ListAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT id, retention_days FROM tenants ORDER BY id");
        return await cmd.ReadAllAsync(static r => (r.GetGuid(0), r.IsDBNull(1) ? (int?)null : r.GetInt32(1)), ct);
    }

    public async Task<PurgedRows> PurgeAsync(Guid tenantId, DateTimeOffset before, DateTimeOffset keysBefore, int batch, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(PurgeSql);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("before", RetentionPolicy.FirstIdAt(before)));
        cmd.Parameters.Add(Param("keys_before", RetentionPolicy.FirstIdAt(keysBefore < before ? keysBefore : before)));
        cmd.Parameters.Add(Param("batch", batch));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return new PurgedRows(r.GetInt32(0), r.GetInt32(1), r.GetInt32(2));
    }
}
