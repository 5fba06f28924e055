using System.Collections.Concurrent;
using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Authentication;

/// <summary>
/// When this node's API keys were last used, batched in memory: a request only overwrites one dictionary slot, and
/// <see cref="ApiKeyUsageFlusher"/> writes the batch every <see cref="HeraldOptions.ApiKeyUsageFlushInterval"/> in one
/// statement, so a key costs at most one write per interval per node, never one per request. <c>lastUsedAt</c> is
/// therefore approximate (it lags by up to the interval, and a node that crashes loses its last batch).
/// </summary>
public sealed class ApiKeyUsage(TimeProvider time)
{
    private ConcurrentDictionary<Guid, DateTimeOffset> _pending = new();

    // Within this of the recorded use a request writes nothing: a lock-free read instead of a locked write for a key
    // that many clients share (lastUsedAt is approximate anyway).
    private static readonly TimeSpan Resolution = TimeSpan.FromSeconds(1);

    public void Record(Guid keyId)
    {
        var now = time.GetUtcNow();
        var pending = _pending;
        if (!pending.TryGetValue(keyId, out var recorded) || now - recorded >= Resolution)
        {
            pending[keyId] = now;
        }
    }

    /// <summary>Takes the uses recorded since the last call.</summary>
    public IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> Take()
    {
        if (_pending.IsEmpty)
        {
            return [];
        }

        return [.. Interlocked.Exchange(ref _pending, new ConcurrentDictionary<Guid, DateTimeOffset>())];
    }
}

/// <summary>Writes <see cref="ApiKeyUsage"/> to the store every interval, and once more when the node stops.</summary>
public sealed partial class ApiKeyUsageFlusher(
    ApiKeyUsage usage, ITenantStore tenants, IOptions<HeraldOptions> options, TimeProvider time, ILogger<ApiKeyUsageFlusher> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ApiKeyUsageFlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the last batch is written in StopAsync.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }

    private async Task FlushAsync(CancellationToken ct)
    {
        var uses = usage.Take();
        try
        {
            await tenants.TouchApiKeysAsync(uses, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Approximate by contract: a lost batch only makes lastUsedAt older; the next use records it again.
            LogFlushFailed(logger, uses.Count, e);
        }
    }

    [LoggerMessage(EventId = 4850, Level = LogLevel.Warning, Message = "Writing when {Count} API keys were last used failed; their lastUsedAt stays older")]
    private static partial void LogFlushFailed(ILogger logger, int count, Exception exception);
}
