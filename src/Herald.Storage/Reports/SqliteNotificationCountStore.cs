using Herald.Core.Notifications;

namespace Herald.Storage.Sqlite;

/// <summary>The counts in SQLite: the single writer serialises recounts.</summary>
internal sealed class SqliteNotificationCountStore(SqliteDatabase db) : INotificationCountStore
{
    public Task RecountAsync(DateTimeOffset bucket, DateTimeOffset now, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var start = SqliteValues.Ms(bucket);
                scope.Command("DELETE FROM notification_counts WHERE bucket = $bucket").Set("$bucket", start).ExecuteNonQuery();
                scope.Command("""
                        INSERT INTO notification_counts (bucket, tenant_id, channel, status, priority, count)
                        SELECT $bucket, n.tenant_id, coalesce(n.channel, -1), n.status, n.priority, count(*)
                        FROM notifications n
                        WHERE n.id >= $first AND n.id < $last
                        GROUP BY n.tenant_id, n.channel, n.status, n.priority
                        """)
                    .Set("$bucket", start)
                    .Set("$first", SqliteValues.Id(TimeOrderedIds.Floor(bucket)))
                    .Set("$last", SqliteValues.Id(TimeOrderedIds.Floor(bucket + CountBuckets.Width)))
                    .ExecuteNonQuery();
                scope.Command($"""
                        INSERT INTO notification_count_buckets (bucket, counted_at, open)
                        SELECT $bucket, $now, coalesce(sum(CASE WHEN {StateSql.NotFinal("status")} THEN count ELSE 0 END), 0)
                        FROM notification_counts WHERE bucket = $bucket
                        ON CONFLICT (bucket) DO UPDATE SET counted_at = excluded.counted_at, open = excluded.open
                        """)
                    .Set("$bucket", start)
                    .Set("$now", SqliteValues.Ms(now))
                    .ExecuteNonQuery();
                return 0;
            },
            ct,
            durable: false);

    public Task<IReadOnlyList<CountedBucket>> BucketsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<CountedBucket>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT bucket, counted_at, open FROM notification_count_buckets WHERE bucket >= $from AND bucket < $to ORDER BY bucket";
                command.Set("$from", SqliteValues.Ms(from)).Set("$to", SqliteValues.Ms(to));
                return command.ReadAll(static r => new CountedBucket(r.GetTime(0), r.GetTime(1), r.GetInt64(2)));
            },
            ct);

    public Task<IReadOnlyList<NotificationCount>> CountAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct)
    {
        var width = (long)bucket.TotalMilliseconds;
        return db.ReadAsync<IReadOnlyList<NotificationCount>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = """
                    SELECT bucket / $width, channel, status, priority, sum(count)
                    FROM notification_counts
                    WHERE tenant_id = $tenant AND bucket >= $from AND bucket < $to
                    GROUP BY 1, 2, 3, 4
                    ORDER BY 1, 2, 3, 4
                    """;
                command.Set("$width", width)
                    .Set("$tenant", SqliteValues.Id(tenantId))
                    .Set("$from", SqliteValues.Ms(from))
                    .Set("$to", SqliteValues.Ms(to));
                return command.ReadAll(r => new NotificationCount(
                    DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0) * width),
                    r.GetInt32(1) < 0 ? null : (Channel)r.GetInt32(1),
                    (NotificationStatus)r.GetInt32(2),
                    (Priority)r.GetInt32(3),
                    r.GetInt64(4)));
            },
            ct);
    }

    public Task PruneAsync(DateTimeOffset before, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var cutoff = SqliteValues.Ms(before);
                scope.Command("DELETE FROM notification_counts WHERE bucket < $before").Set("$before", cutoff).ExecuteNonQuery();
                return scope.Command("DELETE FROM notification_count_buckets WHERE bucket < $before").Set("$before", cutoff).ExecuteNonQuery();
            },
            ct,
            durable: false);
}
