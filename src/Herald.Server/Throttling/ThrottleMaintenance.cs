using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Throttling;

/// <summary>Forgets throttle sends no window can count any more (older than the longest period a rule may set) and the
/// groups left without sends, so the tables hold about a day of sends of throttled types.</summary>
public sealed class ThrottleMaintenance(IThrottleStore store, TimeProvider time, IOptions<ThrottlingOptions> options, ILogger<ThrottleMaintenance> logger)
    : BackgroundService
{
    private const int Chunk = 10_000;

    // The longest 'per' a rule may set (RuleSetReader.MaxDigestWindow): older sends are outside every window.
    private static readonly TimeSpan Retention = TimeSpan.FromDays(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CleanupInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CleanAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.ThrottleCleanupFailed(e);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>One round: removes every send older than the longest throttle period, in chunks.</summary>
    public async Task<int> CleanAsync(CancellationToken ct)
    {
        var before = time.GetUtcNow() - Retention;
        var total = 0;
        int removed;
        do
        {
            removed = await store.DeleteBeforeAsync(before, Chunk, ct);
            total += removed;
        }
        while (removed == Chunk);

        if (total > 0)
        {
            logger.ThrottleCleaned(total, before);
        }

        return total;
    }
}
