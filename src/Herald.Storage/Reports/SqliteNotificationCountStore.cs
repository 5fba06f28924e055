using Herald.Core.Notifications;

namespace Herald.Storage.Sqlite;

/// <summary>The counts in SQLite: the single writer serialises recounts.</summary>
internal sealed class SqliteNotificationCountStore(SqliteDatabase db) : INotificationCountStore
{
    /// <summary>A notification with a measured accept→delivered latency.</summary>
    private static readonly string Delivered = $"n.status = {StateSql.Delivered} AND n.delivered_at IS NOT NULL";

    private static readonly string Bin = LatencyBins.Sql("(n.delivered_at - n.created_at)");

    private static readonly string RecountLatencySql = $"""
        INSERT INTO notification_latency_counts (bucket, tenant_id, bin, count)
        SELECT $bucket, n.tenant_id, {Bin}, count(*)
        FROM notifications n
        WHERE n.id >= $first AND n.id < $last AND {Delivered}
        GROUP BY 2, 3
        """;

    private static readonly string LiveLatencySql = $"""
        SELECT n.created_at / $width, {Bin}, count(*)
        FROM notifications n
        WHERE n.tenant_id = $tenant AND n.id >= $first AND n.id < $last AND {Delivered}
        GROUP BY 1, 2
        ORDER BY 1, 2
        """;

    public Task RecountAsync(DateTimeOffset bucket, DateTimeOffset now, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var start = SqliteValues.Ms(bucket);
                scope.Command("DELETE FROM notification_counts WHERE bucket = $bucket").Set("$bucket", start).ExecuteNonQuery();
                var first = SqliteValues.Id(TimeOrderedIds.Floor(bucket));
                var last = SqliteValues.Id(TimeOrderedIds.Floor(bucket + CountBuckets.Width));
                scope.Command("""
                        INSERT INTO notification_counts (bucket, tenant_id, channel, status, priority, count, fallbacks)
                        SELECT $bucket, n.tenant_id, coalesce(n.channel, -1), n.status, n.priority, count(*), sum(n.step > 0)
                        FROM notifications n
                        WHERE n.id >= $first AND n.id < $last
                        GROUP BY n.tenant_id, n.channel, n.status, n.priority
                        """)
                    .Set("$bucket", start)
                    .Set("$first", first)
                    .Set("$last", last)
                    .ExecuteNonQuery();
                scope.Command("DELETE FROM notification_latency_counts WHERE bucket = $bucket").Set("$bucket", start).ExecuteNonQuery();
                scope.Command(RecountLatencySql).Set("$bucket", start).Set("$first", first).Set("$last", last).ExecuteNonQuery();
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
                    SELECT bucket / $width, channel, status, priority, sum(count), sum(fallbacks)
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
                    r.GetInt64(4)) { Fallbacks = r.GetInt64(5) });
            },
            ct);
    }

    public Task<IReadOnlyList<LatencyCount>> LatencyAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct)
    {
        var width = (long)bucket.TotalMilliseconds;
        return db.ReadAsync<IReadOnlyList<LatencyCount>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = """
                    SELECT bucket / $width, bin, sum(count)
                    FROM notification_latency_counts
                    WHERE tenant_id = $tenant AND bucket >= $from AND bucket < $to
                    GROUP BY 1, 2
                    ORDER BY 1, 2
                    """;
                command.Set("$width", width)
                    .Set("$tenant", SqliteValues.Id(tenantId))
                    .Set("$from", SqliteValues.Ms(from))
                    .Set("$to", SqliteValues.Ms(to));
                return command.ReadAll(r => new LatencyCount(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0) * width), r.GetInt32(1), r.GetInt64(2)));
            },
            ct);
    }

    public Task<IReadOnlyList<LatencyCount>> LiveLatencyAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct)
    {
        var width = (long)bucket.TotalMilliseconds;
        return db.ReadAsync<IReadOnlyList<LatencyCount>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = LiveLatencySql;
                command.Set("$width", width)
                    .Set("$tenant", SqliteValues.Id(tenantId))
                    .Set("$first", SqliteValues.Id(TimeOrderedIds.Floor(from)))
                    .Set("$last", SqliteValues.Id(TimeOrderedIds.Floor(to)));
                return command.ReadAll(r => new LatencyCount(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0) * width), r.GetInt32(1), r.GetInt64(2)));
            },
            ct);
    }

    public Task PruneAsync(DateTimeOffset before, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var cutoff = SqliteValues.Ms(before);
                scope.Command("DELETE FROM notification_counts WHERE bucket < $before").Set("$before", cutoff).ExecuteNonQuery();
                scope.Command("DELETE FROM notification_latency_counts WHERE bucket < $before").Set("$before", cutoff).ExecuteNonQuery();
                return scope.Command("DELETE FROM notification_count_buckets WHERE bucket < $before").Set("$before", cutoff).ExecuteNonQuery();
            },
            ct,
            durable: false);
}
