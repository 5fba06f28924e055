using Herald.Channels.Providers;
using Herald.Storage;
using Herald.Redis;
using Microsoft.Extensions.Options;

namespace Herald.Server.Observability;

/// <summary>
/// Every <see cref="ObservabilityOptions.QueueSampleInterval"/>: asks the database whether it answers (the
/// <c>herald_dependency_up</c> gauge) and, on a delivering node, samples the queue's depth and oldest due entry per
/// lane for the queue gauges (issue #18). A scrape reads the last sample: how often Prometheus scrapes, or how many
/// scrapers there are, never adds a query. Also points the circuit and Redis gauges at this node's dispatcher and
/// connection.
/// </summary>
public sealed class QueueSampler(
    IQueueStats stats, IStorageHealth storage, HeraldMetrics metrics, ChannelDispatcher dispatcher, RedisConnection redis, TimeProvider time,
    IOptions<ObservabilityOptions> options, ILogger<QueueSampler> logger, bool samplesQueue) : BackgroundService
{
    private readonly ObservabilityOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        metrics.ObserveCircuits(dispatcher.GetHealth);
        if (redis.IsConfigured)
        {
            metrics.ObserveRedis(() => redis.IsConnected);
        }

        using var timer = new PeriodicTimer(_options.QueueSampleInterval, time);
        do
        {
            try
            {
                var up = await storage.IsReadyAsync(stoppingToken);
                metrics.DatabaseAnswered(up);
                if (up && samplesQueue)
                {
                    var lanes = await stats.SampleAsync(_options.QueueDepthCap, stoppingToken);
                    metrics.QueueSampled(lanes, time.GetUtcNow());
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The gauges keep the last sample; the database's own alerts say why it did not answer.
                logger.QueueSampleFailed(e);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>Observability logging; event ids 7000-7019.</summary>
internal static partial class ObservabilityLog
{
    [LoggerMessage(7000, LogLevel.Warning, "Queue sample for the metrics failed; the gauges keep the last one")]
    public static partial void QueueSampleFailed(this ILogger logger, Exception exception);
}
