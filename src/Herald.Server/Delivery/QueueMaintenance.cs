using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Delivery;

/// <summary>Periodic queue work any worker may do (no leader): aging of waiting lanes, retrying receipts that
/// arrived before their attempt was stored, and ending idempotency windows.</summary>
public sealed class QueueMaintenance(
    IDeliveryStore store, INotificationStore notifications, ReceiptProcessor receipts, TimeProvider time, IOptions<WorkerOptions> options,
    ILogger<QueueMaintenance> logger)
    : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ReceiptGrace = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var now = time.GetUtcNow();
                    await store.PromoteAgedAsync(options.Value.AgingAfter, 10_000, now, stoppingToken);
                    await notifications.ReleaseDedupeKeysAsync(now - options.Value.IdempotencyWindow, 10_000, stoppingToken);
                    foreach (var receipt in await store.TakePendingReceiptsAsync(now - ReceiptGrace, 1_000, stoppingToken))
                    {
                        // Too old to ever match (e.g. a receipt for another system's message): dropped.
                        if (now - receipt.ReceivedAt < TimeSpan.FromHours(1))
                        {
                            await receipts.ProcessAsync(receipt, stoppingToken);
                        }
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.MaintenanceFailed(e);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
