namespace Herald.Storage.Sqlite;

internal sealed class SqliteDigestStore(SqliteDatabase db) : IDigestStore
{
    public Task<DateTimeOffset> JoinAsync(Guid tenantId, string key, Guid notificationId, DateTimeOffset now, TimeSpan window, CancellationToken ct) =>
        // One writer at a time: reading the open window and joining it cannot interleave.
        db.WriteAsync(
            scope =>
            {
                var tenant = SqliteValues.Id(tenantId);
                var existing = (long?)scope.Command("SELECT closes_at FROM digest_members WHERE notification_id = $id")
                    .Set("$id", SqliteValues.Id(notificationId)).ExecuteScalar();
                if (existing is { } already)
                {
                    return SqliteValues.Time(already);
                }

                var closes = (long)scope.Command(
                        """
                        INSERT INTO digest_windows (tenant_id, digest_key, closes_at) VALUES ($tenant, $key, $closes)
                        ON CONFLICT (tenant_id, digest_key) DO UPDATE
                        SET closes_at = CASE WHEN digest_windows.closes_at > $now THEN digest_windows.closes_at ELSE excluded.closes_at END
                        RETURNING closes_at
                        """)
                    .Set("$tenant", tenant).Set("$key", key).Set("$now", SqliteValues.Ms(now)).Set("$closes", SqliteValues.Ms(now + window))
                    .ExecuteScalar()!;
                scope.Command(
                        "INSERT INTO digest_members (notification_id, tenant_id, digest_key, closes_at, joined_at) VALUES ($id, $tenant, $key, $closes, $now)")
                    .Set("$id", SqliteValues.Id(notificationId)).Set("$tenant", tenant).Set("$key", key).Set("$closes", closes).Set("$now", SqliteValues.Ms(now))
                    .ExecuteNonQuery();
                return SqliteValues.Time(closes);
            },
            ct);

    public Task<IReadOnlyList<Guid>> MembersAsync(Guid tenantId, string key, DateTimeOffset closesAt, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<Guid>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = """
                    SELECT m.notification_id FROM digest_members m JOIN notifications n ON n.id = m.notification_id
                    WHERE m.tenant_id = $tenant AND m.digest_key = $key AND m.closes_at = $closes
                    ORDER BY m.joined_at, m.notification_id
                    """;
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$key", key).Set("$closes", SqliteValues.Ms(closesAt));
                return command.ReadAll(r => r.GetId(0));
            },
            ct);

    // As on PostgreSQL: a window is done when none of its members' notifications is short of a final state (status 3
    // and up); the single writer means no join can interleave.
    public Task<int> DeleteSentAsync(DateTimeOffset closedBefore, int max, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var before = SqliteValues.Ms(closedBefore);
                var deleted = scope.Command(
                        $"""
                        DELETE FROM digest_members WHERE notification_id IN (
                            SELECT m.notification_id FROM digest_members m
                            WHERE m.closes_at < $before
                              AND NOT EXISTS (
                                  SELECT 1 FROM digest_members o JOIN notifications n ON n.id = o.notification_id
                                  WHERE o.tenant_id = m.tenant_id AND o.digest_key = m.digest_key AND o.closes_at = m.closes_at AND {StateSql.NotFinal("n.status")})
                            LIMIT $max)
                        """)
                    .Set("$before", before).Set("$max", max)
                    .ExecuteNonQuery();
                scope.Command(
                        """
                        DELETE FROM digest_windows WHERE rowid IN (
                            SELECT w.rowid FROM digest_windows w
                            WHERE w.closes_at < $before
                              AND NOT EXISTS (SELECT 1 FROM digest_members m
                                              WHERE m.tenant_id = w.tenant_id AND m.digest_key = w.digest_key AND m.closes_at = w.closes_at)
                            LIMIT $max)
                        """)
                    .Set("$before", before).Set("$max", max)
                    .ExecuteNonQuery();
                return deleted;
            },
            ct);
}
