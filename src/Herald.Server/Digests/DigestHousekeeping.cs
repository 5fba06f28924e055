using System.ComponentModel.DataAnnotations;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Digests;

/// <summary>Settings under <c>Herald:Digests</c> (docs/CONFIGURATION.md).</summary>
public sealed class DigestsOptions
{
    public const string Section = "Herald:Digests";

    /// <summary>How long the rows of a closed, sent digest window are kept (nothing reads them once every member is
    /// final; they help explain a digest for a while).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "365.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How often a worker node deletes expired digest rows.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Rows deleted per statement, so one run never holds long locks.</summary>
    [Range(1, 1_000_000)]
    public int CleanupBatch { get; set; } = 10_000;
}

/// <summary>
/// Deletes <c>digest_members</c> and <c>digest_windows</c> rows of windows that closed more than
/// <see cref="DigestsOptions.Retention"/> ago and were sent (every member final), so the tables stay flat under
/// sustained digest traffic. Runs on every worker node; the deletes are idempotent, so nodes need not coordinate.
/// </summary>
public sealed class DigestHousekeeping(IDigestStore store, TimeProvider time, IOptions<DigestsOptions> options, ILogger<DigestHousekeeping> logger)
    : BackgroundService
{
    /// <summary>One cleanup pass: batches until nothing is left. Returns the member rows deleted.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var o = options.Value;
        var before = time.GetUtcNow() - o.Retention;
        var total = 0;
        int deleted;
        do
        {
            deleted = await store.DeleteSentAsync(before, o.CleanupBatch, ct);
            total += deleted;
        }
        while (deleted >= o.CleanupBatch && !ct.IsCancellationRequested);

        if (total > 0)
        {
            logger.DigestRowsDeleted(total);
        }

        return total;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CleanupInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.DigestCleanupFailed(e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
