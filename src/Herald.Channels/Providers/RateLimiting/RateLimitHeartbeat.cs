using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Herald.Channels.Providers.RateLimiting;

/// <summary>
/// Announces this node in Redis every <see cref="RateLimitOptions.HeartbeatInterval"/> once it has asked for a permit,
/// and hands the number of live sending nodes to the limiter (its local share when Redis goes away). Nodes that never
/// send (API-only) never announce themselves. A stopping node withdraws at once.
/// </summary>
public sealed class RateLimitHeartbeat(
    ProviderRateLimiter limiter,
    SharedRateLimiter shared,
    IOptions<RateLimitOptions> options,
    TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!shared.IsConfigured || !options.Value.Enabled)
        {
            return;
        }

        try
        {
            await limiter.Activated.WaitAsync(stoppingToken).ConfigureAwait(false);
            using var timer = new PeriodicTimer(options.Value.HeartbeatInterval, time);
            do
            {
                limiter.OnHeartbeat(await shared.HeartbeatAsync(limiter.NodeId, stoppingToken).ConfigureAwait(false));
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (limiter.Activated.IsCompleted)
        {
            await shared.LeaveAsync(limiter.NodeId, cancellationToken).ConfigureAwait(false);
        }
    }
}
