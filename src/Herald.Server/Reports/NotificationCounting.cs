using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Reports;

/// <summary>
/// Keeps the overview's counts (<see cref="INotificationCountStore"/>) current on delivering nodes. Each round recounts
/// the buckets of the last two hours (statuses there still move), backfills buckets of the last week never counted
/// (a fresh database, a node that was down), and recounts a few older buckets that still held notifications that were
/// not final (scheduled, held for quiet hours) once they have waited ten minutes. Nothing on the delivery path writes
/// a count. Several nodes doing this only repeat each other's recounts.
/// </summary>
public sealed partial class NotificationCounting(
    INotificationCountStore store, TimeProvider time, IOptions<ReportsOptions> options, ILogger<NotificationCounting> logger) : BackgroundService
{
    /// <summary>The overview's longest range, and one bucket's margin.</summary>
    public static readonly TimeSpan Kept = TimeSpan.FromDays(7) + CountBuckets.Width;

    private static readonly TimeSpan Recent = TimeSpan.FromHours(2);
    private static readonly TimeSpan OpenRecountAfter = TimeSpan.FromMinutes(10);
    private const int BackfillPerRound = 96;
    private const int OpenPerRound = 16;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Counting)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.CountInterval, time);
        try
        {
            do
            {
                try
                {
                    await RoundAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogRoundFailed(logger, e);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>One round; answers how many buckets it recounted.</summary>
    public async Task<int> RoundAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var current = CountBuckets.Of(now);
        var oldest = CountBuckets.Of(now - Kept);
        await store.PruneAsync(oldest, ct);
        var counted = (await store.BucketsAsync(oldest, current, ct)).ToDictionary(b => b.Bucket);
        var due = new List<DateTimeOffset>();

        // The recent buckets, the current one included (the overview reads it live, but a count makes it complete
        // sooner once it closes), every round.
        for (var bucket = CountBuckets.Of(now - Recent); bucket <= current; bucket += CountBuckets.Width)
        {
            due.Add(bucket);
        }

        // Older ones: never counted first (newest first: the overview's 24 h range fills before its 7 d range), then
        // those counted while some of their notifications were still open.
        var older = new List<DateTimeOffset>();
        for (var bucket = CountBuckets.Of(now - Recent) - CountBuckets.Width; bucket >= oldest && older.Count < BackfillPerRound; bucket -= CountBuckets.Width)
        {
            if (!counted.TryGetValue(bucket, out var seen) || seen.CountedAt < bucket + CountBuckets.Width)
            {
                older.Add(bucket);
            }
        }

        due.AddRange(older);
        due.AddRange(counted.Values
            .Where(b => b.Bucket < CountBuckets.Of(now - Recent) && b.Open > 0 && b.CountedAt <= now - OpenRecountAfter && !older.Contains(b.Bucket))
            .OrderBy(b => b.CountedAt).Take(OpenPerRound).Select(b => b.Bucket));
        foreach (var bucket in due)
        {
            await store.RecountAsync(bucket, time.GetUtcNow(), ct);
        }

        return due.Count;
    }

    [LoggerMessage(EventId = 5310, Level = LogLevel.Warning, Message = "Counting notifications for the overview failed; next round at the next interval")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);
}
