using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Reports;

/// <summary>
/// Keeps the overview's counts (<see cref="INotificationCountStore"/>) current on delivering nodes. A bucket's counts
/// are used once it was counted settled (<see cref="CountBuckets.Settle"/> after it closed; until then the overview
/// reads it live), so each round counts the buckets that settled and were not counted since (backfilling the last week
/// on a fresh database or after a node was down), and recounts a few whose last count still found notifications that
/// were not final (awaiting a receipt, a retry, scheduled, held for quiet hours, waiting out an outage) once they have
/// waited ten minutes. A bucket counted with none open is never read again: final statuses do not change. So at a
/// steady rate each notification is read about once, whatever the traffic. Nothing on the delivery path writes a
/// count. Several nodes doing this only repeat each other's recounts.
/// </summary>
public sealed partial class NotificationCounting(
    INotificationCountStore store, TimeProvider time, IOptions<ReportsOptions> options, ILogger<NotificationCounting> logger) : BackgroundService
{
    /// <summary>The overview's longest range, and one bucket's margin.</summary>
    public static readonly TimeSpan Kept = TimeSpan.FromDays(7) + CountBuckets.Width;

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

        // Settled buckets not counted since they settled, newest first (the overview's 24 h range fills before its 7 d).
        for (var bucket = CountBuckets.Of(now - CountBuckets.Settle) - CountBuckets.Width; bucket >= oldest && due.Count < BackfillPerRound; bucket -= CountBuckets.Width)
        {
            if (!counted.TryGetValue(bucket, out var seen) || !CountBuckets.IsComplete(seen))
            {
                due.Add(bucket);
            }
        }

        // Counted with some notifications still open then: again once they have waited.
        due.AddRange(counted.Values
            .Where(b => b.Open > 0 && b.CountedAt <= now - OpenRecountAfter && !due.Contains(b.Bucket))
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
