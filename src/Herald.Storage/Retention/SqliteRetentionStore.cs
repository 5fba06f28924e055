namespace Herald.Storage.Sqlite;

internal sealed class SqliteRetentionStore(SqliteDatabase db) : IRetentionStore
{
    public Task<(bool Found, int? Days)> GetAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT retention_days FROM tenants WHERE id = $id";
                command.Set("$id", SqliteValues.Id(tenantId));
                using var r = command.ExecuteReader();
                return r.Read() ? (true, r.IsDBNull(0) ? (int?)null : r.GetInt32(0)) : (false, null);
            },
            ct);

    public Task<bool> SetAsync(Guid tenantId, int? days, CancellationToken ct) =>
        db.WriteAsync(
            scope => SqliteAuditStore.Audited(scope, scope.Command("UPDATE tenants SET retention_days = $days WHERE id = $id")
                .Set("$id", SqliteValues.Id(tenantId)).Set("$days", days is { } d ? d : DBNull.Value)
                .ExecuteNonQuery()) == 1,
            ct);

    public Task<IReadOnlyList<(Guid TenantId, int? Days)>> ListAsync(CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<(Guid, int?)>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT id, retention_days FROM tenants ORDER BY id";
                return command.ReadAll(r => (r.GetId(0), r.IsDBNull(1) ? (int?)null : r.GetInt32(1)));
            },
            ct);

    // The same id ranges as PostgreSQL (ids are UUIDv7, stored as canonical text, so text order is id order).
    public Task<PurgedRows> PurgeAsync(Guid tenantId, DateTimeOffset before, DateTimeOffset keysBefore, int batch, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var tenant = SqliteValues.Id(tenantId);
                var beforeId = SqliteValues.Id(RetentionPolicy.FirstIdAt(before));
                var keysBeforeId = SqliteValues.Id(RetentionPolicy.FirstIdAt(keysBefore < before ? keysBefore : before));
                // One writer at a time: the doomed set reads the same in each statement of this transaction.
                var doomed =
                    $"""
                    SELECT id FROM notifications
                    WHERE tenant_id = $tenant AND id < $before AND {StateSql.Final("status")} AND (dedupe_key IS NULL OR id < $keys_before)
                    ORDER BY id LIMIT $batch
                    """;
                int Delete(string sql) => scope.Command(sql)
                    .Set("$tenant", tenant).Set("$before", beforeId).Set("$keys_before", keysBeforeId).Set("$batch", batch)
                    .ExecuteNonQuery();
                Delete($"DELETE FROM attempt_parts WHERE attempt_id IN (SELECT id FROM attempts WHERE notification_id IN ({doomed}))");
                var attempts = Delete($"DELETE FROM attempts WHERE notification_id IN ({doomed})");
                var notifications = Delete($"DELETE FROM notifications WHERE id IN ({doomed})");
                Delete("DELETE FROM customer_messages WHERE id IN (SELECT id FROM customer_messages WHERE id < $before AND tenant_id = $tenant ORDER BY id LIMIT $batch)");
                var webhooks = scope.Command(
                        $"""
                        DELETE FROM webhook_deliveries WHERE id IN (
                            SELECT id FROM webhook_deliveries
                            WHERE tenant_id = $tenant AND id < $before AND state <> {StateSql.WebhookPending}
                            ORDER BY id LIMIT $batch)
                        """)
                    .Set("$tenant", tenant).Set("$before", beforeId).Set("$batch", batch)
                    .ExecuteNonQuery();
                return new PurgedRows(notifications, attempts, webhooks);
            },
            ct);
}
