using System.Collections.Concurrent;

namespace Herald.Channels.Providers;

/// <summary>
/// The observed send latency per provider account: an exponentially weighted moving average (weight
/// <see cref="Alpha"/> for the newest sample), kept in memory by each node's dispatcher. The <c>fastest</c> cost
/// policy reads it.
/// </summary>
public sealed class ProviderLatency
{
    /// <summary>Weight of the newest sample: about the last ten sends dominate.</summary>
    public const double Alpha = 0.2;

    private readonly ConcurrentDictionary<Guid, double> _ewmaMs = new();

    /// <summary>The moving average in milliseconds, or null before the account's first sample.</summary>
    public double? Get(Guid accountId) => _ewmaMs.TryGetValue(accountId, out var ms) ? ms : null;

    public void Record(Guid accountId, TimeSpan latency)
    {
        var ms = latency.TotalMilliseconds;
        _ewmaMs.AddOrUpdate(accountId, ms, (_, previous) => previous + (Alpha * (ms - previous)));
    }
}
