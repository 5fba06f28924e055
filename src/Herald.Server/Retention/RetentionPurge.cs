using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Retention;

/// <summary>
/// Deletes each tenant's delivery records past its retention (issue #17): final notifications with their attempts
/// and parts, and finished webhook deliveries, in small batches with a pause between them so delivery never waits
/// for it. Runs on delivering nodes; two nodes purging at once only repeat each other's deletes.
/// </summary>
public sealed partial class RetentionPurge(
    IRetentionStore store, TimeProvider time, IOptions<RetentionOptions> options, HeraldMetrics metrics, ILogger<RetentionPurge> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.Interval, time);
        try
        {
            do
            {
                try
                {
                    await PurgeAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogPurgeFailed(logger, e);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>One round over every tenant; answers what it deleted.</summary>
    public async Task<PurgedRows> PurgeAsync(CancellationToken ct)
    {
        var o = options.Value;
        var total = new PurgedRows();
        foreach (var (tenantId, days) in await store.ListAsync(ct))
        {
            var now = time.GetUtcNow();
            var before = now - TimeSpan.FromDays(days ?? RetentionPolicy.DefaultDays);
            var keysBefore = now - RetentionPolicy.IdempotencyWindow;
            PurgedRows batch;
            var tenantTotal = 0;
            do
            {
                batch = await store.PurgeAsync(tenantId, before, keysBefore, o.BatchSize, ct);
                metrics.Purged(batch);
                tenantTotal += batch.Total;
                total = new PurgedRows(total.Notifications + batch.Notifications, total.Attempts + batch.Attempts, total.WebhookDeliveries + batch.WebhookDeliveries);
                if (o.BatchPause > TimeSpan.Zero && batch.Total > 0)
                {
                    await Task.Delay(o.BatchPause, time, ct);
                }
            }
            while (batch.Notifications == o.BatchSize || batch.WebhookDeliveries == o.BatchSize);

            if (tenantTotal > 0)
            {
                LogPurged(logger, tenantId, tenantTotal, before);
            }
        }

        return total;
    }

    [LoggerMessage(EventId = 5300, Level = LogLevel.Information, Message = "Retention: purged {Rows} rows of tenant {TenantId} created before {Before:O}")]
    private static partial void LogPurged(ILogger logger, Guid tenantId, int rows, DateTimeOffset before);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Warning, Message = "Retention purge failed; next round at the next interval")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);
}
