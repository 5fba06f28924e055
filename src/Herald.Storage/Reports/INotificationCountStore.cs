namespace Herald.Storage;

/// <summary>The buckets of <see cref="INotificationCountStore"/>.</summary>
public static class CountBuckets
{
    /// <summary>The width of a bucket; buckets start at multiples of it since the Unix epoch.</summary>
    public static readonly TimeSpan Width = TimeSpan.FromMinutes(15);

    /// <summary>How long after it closes a bucket is still read live rather than counted: a notification's row commits
    /// after its id's time (a batch takes a while) and its first delivery steps run in the seconds after, so a count
    /// taken any sooner would be stale at once.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromMinutes(5);

    /// <summary>Whether <paramref name="bucket"/> was counted once settled, so its counts stand for it.</summary>
    public static bool IsComplete(CountedBucket bucket) => bucket.CountedAt >= bucket.Bucket + Width + Settle;

    /// <summary>The start of the bucket holding <paramref name="time"/>.</summary>
    public static DateTimeOffset Of(DateTimeOffset time)
    {
        var width = (long)Width.TotalMilliseconds;
        return DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds() / width * width);
    }
}

/// <summary>
/// Notifications counted per <see cref="CountBuckets.Width"/> bucket of their creation, by tenant, channel, status and priority
/// (issue #19): the console overview's 24 h and 7 d ranges read these instead of every notification. A bucket is
/// recounted as a whole from the notifications, so a count is never adjusted on the delivery path; a background job
/// (src/Herald.Server/Reports/NotificationCounting.cs) decides which buckets to recount when.
/// </summary>
public interface INotificationCountStore
{
    /// <summary>Counts the notifications of every tenant created in the bucket starting at <paramref name="bucket"/>,
    /// replacing its previous counts, and records when (one transaction; recounts of one bucket by several nodes
    /// take turns).</summary>
    Task RecountAsync(DateTimeOffset bucket, DateTimeOffset now, CancellationToken ct);

    /// <summary>The counted buckets in [<paramref name="from"/>, <paramref name="to"/>) with when they were counted and
    /// how many of their notifications were not final then, oldest bucket first.</summary>
    Task<IReadOnlyList<CountedBucket>> BucketsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken ct);

    /// <summary>The tenant's counts in the counted buckets of [<paramref name="from"/>, <paramref name="to"/>), summed
    /// into buckets of <paramref name="bucket"/> (a multiple of <see cref="CountBuckets.Width"/>).</summary>
    Task<IReadOnlyList<NotificationCount>> CountAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct);

    /// <summary>The tenant's accept→delivered histogram (<see cref="LatencyBins"/>) in the counted buckets of
    /// [<paramref name="from"/>, <paramref name="to"/>), summed into buckets of <paramref name="bucket"/> (a multiple of
    /// <see cref="CountBuckets.Width"/>); only non-empty bins.</summary>
    Task<IReadOnlyList<LatencyCount>> LatencyAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct);

    /// <summary>The same histogram from the notifications themselves (created in [<paramref name="from"/>,
    /// <paramref name="to"/>), read as the id range through the (tenant_id, id) index): the overview's 1 h range and the
    /// part of a longer range its counts do not cover yet.</summary>
    Task<IReadOnlyList<LatencyCount>> LiveLatencyAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct);

    /// <summary>Forgets the buckets that start before <paramref name="before"/>.</summary>
    Task PruneAsync(DateTimeOffset before, CancellationToken ct);
}

/// <param name="Open">Notifications of the bucket that were not final when it was counted.</param>
public sealed record CountedBucket(DateTimeOffset Bucket, DateTimeOffset CountedAt, long Open);

/// <summary>How many of a tenant's notifications created in <paramref name="Bucket"/> were delivered with an
/// accept→delivered latency in <paramref name="Bin"/> (<see cref="LatencyBins"/>). Notifications delivered before
/// Herald recorded the moment of delivery (PG 0033, SQLite 0034) are in no bin.</summary>
public sealed record LatencyCount(DateTimeOffset Bucket, int Bin, long Count);
