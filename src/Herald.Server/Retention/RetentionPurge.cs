using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Retention;

/// <summary>
/// Deletes each tenant's delivery records past its retention (issue #17): final notifications with their attempts
/// and parts, and finished webhook deliveries, in small batches with a pause between them so delivery never waits
/// for it; then the audit trail's entries past <see cref="RetentionOptions.AuditDays"/>. Runs on delivering nodes; two
/// nodes purging at once only repeat each other's deletes.
/// </summary>
public sealed partial class RetentionPurge(
    IRetentionStore store, IAuditStore audit, TimeProvider time, IOptions<RetentionOptions> options, HeraldMetrics metrics, ILogger<RetentionPurge> logger) : BackgroundService
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

        var auditDeleted = 0;
        int auditBatch;
        do
        {
            auditBatch = await audit.PurgeAsync(time.GetUtcNow(), TimeSpan.FromDays(o.AuditDays), AuditSlack, o.BatchSize, ct);
            auditDeleted += auditBatch;
        }
        while (auditBatch > 0);

        if (auditDeleted > 0)
        {
            LogAuditPurged(logger, auditDeleted, o.AuditDays);
        }

        return total;
    }

    /// <summary>A chain is shortened only once its oldest entry is this much past the audit retention: about one
    /// <c>audit.purge</c> entry per chain and day, not one per round.</summary>
    private static readonly TimeSpan AuditSlack = TimeSpan.FromDays(1);

    [LoggerMessage(EventId = 5300, Level = LogLevel.Information, Message = "Retention: purged {Rows} rows of tenant {TenantId} created before {Before:O}")]
    private static partial void LogPurged(ILogger logger, Guid tenantId, int rows, DateTimeOffset before);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Information, Message = "Retention: deleted {Entries} audit entries older than {Days} days")]
    private static partial void LogAuditPurged(ILogger logger, int entries, int days);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Warning, Message = "Retention purge failed; next round at the next interval")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);
}
