namespace Herald.Storage.Sqlite;

internal sealed class SqliteThrottleStore(SqliteDatabase db) : IThrottleStore
{
    public Task<bool> AdmitAsync(Guid tenantId, string key, Guid notificationId, int max, TimeSpan per, DateTimeOffset now, CancellationToken ct) =>
        // One writer at a time: counting the window and recording the send cannot interleave with another admission.
        db.WriteAsync(
            scope =>
            {
                var id = SqliteValues.Id(notificationId);
                if (scope.Command("SELECT 1 FROM throttle_sends WHERE notification_id = $id").Set("$id", id).ExecuteScalar() is not null)
                {
                    return true;
                }

                var tenant = SqliteValues.Id(tenantId);
                var at = SqliteValues.Ms(now);
                scope.Command(
                        """
                        INSERT INTO throttle_groups (tenant_id, group_key, touched_at) VALUES ($tenant, $key, $now)
                        ON CONFLICT (tenant_id, group_key) DO UPDATE SET touched_at = max(touched_at, excluded.touched_at)
                        """)
                    .Set("$tenant", tenant).Set("$key", key).Set("$now", at)
                    .ExecuteNonQuery();
                var sent = (long)scope.Command(
                        """
                        SELECT count(*) FROM (
                            SELECT 1 FROM throttle_sends WHERE tenant_id = $tenant AND group_key = $key AND sent_at > $since LIMIT $max)
                        """)
                    .Set("$tenant", tenant).Set("$key", key).Set("$since", at - (long)per.TotalMilliseconds).Set("$max", max)
                    .ExecuteScalar()!;
                if (sent >= max)
                {
                    return false;
                }

                scope.Command("INSERT INTO throttle_sends (notification_id, tenant_id, group_key, sent_at) VALUES ($id, $tenant, $key, $now)")
                    .Set("$id", id).Set("$tenant", tenant).Set("$key", key).Set("$now", at)
                    .ExecuteNonQuery();
                return true;
            },
            ct);

    public Task<int> CountAsync(Guid tenantId, string key, TimeSpan per, DateTimeOffset now, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT count(*) FROM throttle_sends WHERE tenant_id = $tenant AND group_key = $key AND sent_at > $since";
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$key", key).Set("$since", SqliteValues.Ms(now) - (long)per.TotalMilliseconds);
                return (int)(long)command.ExecuteScalar()!;
            },
            ct);

    public Task<int> DeleteBeforeAsync(DateTimeOffset before, int max, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var cutoff = SqliteValues.Ms(before);
                var removed = scope.Command(
                        """
                        DELETE FROM throttle_sends WHERE notification_id IN (
                            SELECT notification_id FROM throttle_sends WHERE sent_at < $before ORDER BY sent_at LIMIT $max)
                        """)
                    .Set("$before", cutoff).Set("$max", Math.Max(0, max))
                    .ExecuteNonQuery();
                // Sends are recorded at their group's touch time and touched_at only grows, so a group untouched since
                // 'before' has no send left that the window could still count.
                scope.Command(
                        """
                        DELETE FROM throttle_groups WHERE rowid IN (
                            SELECT rowid FROM throttle_groups WHERE touched_at < $before LIMIT $max)
                        """)
                    .Set("$before", cutoff).Set("$max", Math.Max(0, max))
                    .ExecuteNonQuery();
                return removed;
            },
            ct);
}
