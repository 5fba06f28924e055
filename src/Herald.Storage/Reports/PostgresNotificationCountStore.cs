using Herald.Core.Notifications;
using Npgsql;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresNotificationCountStore(NpgsqlDataSource dataSource) : INotificationCountStore
{
    /// <summary>Serialises recounts across nodes: two recounting one bucket at once would each insert its rows.</summary>
    private const long RecountLock = 0x6865_7261_6c64_0019; // "herald", issue 19

    /// <summary>A notification with a measured accept→delivered latency.</summary>
    private static readonly string Delivered = $"n.status = {StateSql.Delivered} AND n.delivered_at IS NOT NULL";

    /// <summary>The latency's bin; date_part is double precision (extract is numeric, several times slower here).</summary>
    public static readonly string Bin = LatencyBins.PostgresSql("date_part('epoch', n.delivered_at - n.created_at) * 1000");

    private static readonly string RecountSql =
        $"""
        SELECT pg_advisory_xact_lock({RecountLock});
        DELETE FROM notification_counts WHERE bucket = @bucket;
        INSERT INTO notification_counts (bucket, tenant_id, channel, status, priority, count, fallbacks)
        SELECT @bucket, n.tenant_id, coalesce(n.channel, -1), n.status, n.priority, count(*), count(*) FILTER (WHERE n.step > 0)
        FROM notifications n
        WHERE n.id >= @first AND n.id < @last
        GROUP BY n.tenant_id, n.channel, n.status, n.priority;
        DELETE FROM notification_latency_counts WHERE bucket = @bucket;
        INSERT INTO notification_latency_counts (bucket, tenant_id, bin, count)
        SELECT @bucket, n.tenant_id, {Bin}, count(*)
        FROM notifications n
        WHERE n.id >= @first AND n.id < @last AND {Delivered}
        GROUP BY 2, 3;
        INSERT INTO notification_count_buckets (bucket, counted_at, open)
        SELECT @bucket, @now, coalesce(sum(count) FILTER (WHERE {StateSql.NotFinal("status")}), 0)
        FROM notification_counts WHERE bucket = @bucket
        ON CONFLICT (bucket) DO UPDATE SET counted_at = excluded.counted_at, open = excluded.open;
        """;

    private static readonly string LiveLatencySql =
        $"""
        SELECT floor(extract(epoch FROM n.created_at) * 1000 / @width)::bigint, {Bin}, count(*)
        FROM notifications n
        WHERE n.tenant_id = @tenant AND n.id >= @first AND n.id < @last AND {Delivered}
        GROUP BY 1, 2
        ORDER BY 1, 2
        """;

    public async Task RecountAsync(DateTimeOffset bucket, DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand(RecountSql, connection))
        {
            cmd.Parameters.Add(Param("bucket", Utc(bucket)));
            cmd.Parameters.Add(Param("now", Utc(now)));
            cmd.Parameters.Add(Param("first", TimeOrderedIds.Floor(bucket)));
            cmd.Parameters.Add(Param("last", TimeOrderedIds.Floor(bucket + CountBuckets.Width)));
            await cmd.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
    }

    public async Task<IReadOnlyList<CountedBucket>> BucketsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT bucket, counted_at, open FROM notification_count_buckets WHERE bucket >= @from AND bucket < @to ORDER BY bucket");
        cmd.Parameters.Add(Param("from", Utc(from)));
        cmd.Parameters.Add(Param("to", Utc(to)));
        return await cmd.ReadAllAsync(static r => new CountedBucket(r.GetFieldValue<DateTimeOffset>(0), r.GetFieldValue<DateTimeOffset>(1), r.GetInt64(2)), ct);
    }

    // date_part, not extract: double precision, exact for bucket starts (whole seconds), and several times cheaper than
    // extract's numeric over a week's count rows.
    public async Task<IReadOnlyList<NotificationCount>> CountAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT floor(date_part('epoch', bucket) * 1000 / @width)::bigint, channel, status, priority, sum(count)::bigint, sum(fallbacks)::bigint
            FROM notification_counts
            WHERE tenant_id = @tenant AND bucket >= @from AND bucket < @to
            GROUP BY 1, 2, 3, 4
            ORDER BY 1, 2, 3, 4
            """);
        var width = (long)bucket.TotalMilliseconds;
        cmd.Parameters.Add(Param("width", width));
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("from", Utc(from)));
        cmd.Parameters.Add(Param("to", Utc(to)));
        return await cmd.ReadAllAsync(r => new NotificationCount(
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0) * width),
            r.GetInt16(1) < 0 ? null : (Channel)r.GetInt16(1),
            (NotificationStatus)r.GetInt16(2),
            (Priority)r.GetInt16(3),
            r.GetInt64(4)) { Fallbacks = r.GetInt64(5) }, ct);
    }

    public async Task<IReadOnlyList<LatencyCount>> LatencyAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT floor(date_part('epoch', bucket) * 1000 / @width)::bigint, bin, sum(count)::bigint
            FROM notification_latency_counts
            WHERE tenant_id = @tenant AND bucket >= @from AND bucket < @to
            GROUP BY 1, 2
            ORDER BY 1, 2
            """);
        var width = (long)bucket.TotalMilliseconds;
        cmd.Parameters.Add(Param("width", width));
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("from", Utc(from)));
        cmd.Parameters.Add(Param("to", Utc(to)));
        return await cmd.ReadAllAsync(r => new LatencyCount(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0) * width), r.GetInt16(1), r.GetInt64(2)), ct);
    }

    public async Task<IReadOnlyList<LatencyCount>> LiveLatencyAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(LiveLatencySql);
        var width = (long)bucket.TotalMilliseconds;
        cmd.Parameters.Add(Param("width", width));
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("first", TimeOrderedIds.Floor(from)));
        cmd.Parameters.Add(Param("last", TimeOrderedIds.Floor(to)));
        return await cmd.ReadAllAsync(r => new LatencyCount(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0) * width), r.GetInt32(1), r.GetInt64(2)), ct);
    }

    public async Task PruneAsync(DateTimeOffset before, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            DELETE FROM notification_counts WHERE bucket < @before;
            DELETE FROM notification_latency_counts WHERE bucket < @before;
            DELETE FROM notification_count_buckets WHERE bucket < @before;
            """);
        cmd.Parameters.Add(Param("before", Utc(before)));
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
