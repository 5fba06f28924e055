using Herald.Core.Notifications;
using Herald.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Channels.Providers.RateLimiting;

/// <summary>Where a permit came from.</summary>
public enum RateLimitMode
{
    /// <summary>The cluster-wide schedule in Redis.</summary>
    Shared,
    /// <summary>This node's own schedule at its share of the rate (Redis not configured or not answering).</summary>
    Local,
    /// <summary>Redis answers again, but until every node is back the node also keeps to its local share.</summary>
    Recovering,
}

/// <param name="Granted">The send may go now (the limiter already waited for its slot).</param>
/// <param name="Waited">How long the send waited for its slot.</param>
/// <param name="RetryAfter">When not granted: ask again after this long.</param>
public readonly record struct RatePermit(bool Granted, TimeSpan Waited, TimeSpan RetryAfter, RateLimitMode Mode)
{
    public static readonly RatePermit Unlimited = new(true, TimeSpan.Zero, TimeSpan.Zero, RateLimitMode.Local);
}

/// <summary>Permits to send through a provider account with a <see cref="ProviderAccount.RatePerSecond"/>.</summary>
public interface IProviderRateLimiter
{
    /// <summary>Waits for the account's next slot (a bounded wait, shorter for higher lanes) and grants it, or turns the
    /// send away with a retry-after. Accounts without a rate are always granted at once. Never throws for Redis
    /// trouble; only cancellation of <paramref name="ct"/> propagates.</summary>
    ValueTask<RatePermit> AcquireAsync(ProviderAccount account, Priority priority, CancellationToken ct);
}

/// <summary>
/// The cluster-wide, priority-aware provider rate limit (docs/channels/RATE-LIMITS.md). Asks the shared schedule in
/// Redis; when Redis is not configured, fails or is slow (more than <see cref="RateLimitOptions.RedisTimeout"/>), limits
/// the node locally to <c>rate / live nodes</c>. Repeated failures open a small circuit of its own, so a dead Redis is
/// asked once per <see cref="RateLimitOptions.RedisBreak"/>, not once per send.
/// </summary>
public sealed partial class ProviderRateLimiter : IProviderRateLimiter
{
    private readonly SharedRateLimiter _shared;
    private readonly LocalRateLimiter _local;
    private readonly RateLimitOptions _options;
    private readonly TimeProvider _time;
    private readonly IRateLimitMetrics _metrics;
    private readonly ILogger<ProviderRateLimiter> _logger;
    private readonly TaskCompletionSource _activated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _maxRetryAfter;
    private readonly long _redisBreak;
    private readonly long _recoveryGrace;
    private readonly long _redisTimeout;
    private readonly long _maxLateness;

    private int _failures;
    private long _openUntil;
    private int _probing;
    private long _recoveringUntil;
    private int _expectedNodes;
    private int _knownNodes;
    private int _mode = -1;

    public ProviderRateLimiter(
        SharedRateLimiter shared,
        LocalRateLimiter local,
        IOptions<RateLimitOptions> options,
        TimeProvider time,
        IRateLimitMetrics metrics,
        ILogger<ProviderRateLimiter> logger)
    {
        _shared = shared;
        _local = local;
        _options = options.Value;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _maxRetryAfter = Micros(_options.MaxRetryAfter);
        _redisBreak = Micros(_options.RedisBreak);
        _recoveryGrace = Micros(_options.RecoveryGrace);
        _redisTimeout = Micros(_options.RedisTimeout);
        _maxLateness = Micros(_options.MaxLateness);
    }

    /// <summary>This process's entry in the live-node registry.</summary>
    public string NodeId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    /// <summary>Completes when the node first asked for a permit: only nodes that send announce themselves.</summary>
    public Task Activated => _activated.Task;

    /// <summary>Live sending nodes as last read from Redis; <see cref="RateLimitOptions.AssumedNodes"/> until then.</summary>
    public int KnownNodes => Volatile.Read(ref _knownNodes) is > 0 and var n ? n : _options.AssumedNodes;

    /// <summary>Where permits come from now.</summary>
    public RateLimitMode Mode
    {
        get
        {
            if (!_shared.IsConfigured || Volatile.Read(ref _openUntil) != 0)
            {
                return RateLimitMode.Local;
            }

            return Volatile.Read(ref _recoveringUntil) != 0 ? RateLimitMode.Recovering : RateLimitMode.Shared;
        }
    }

    public async ValueTask<RatePermit> AcquireAsync(ProviderAccount account, Priority priority, CancellationToken ct)
    {
        if (!_options.Enabled || account.RatePerSecond is not { } configured || configured <= 0)
        {
            return RatePermit.Unlimited;
        }

        if (_activated.TrySetResult())
        {
            ReportMode();
        }

        var interval = Math.Max(1, (long)Math.Ceiling(1_000_000 / (configured * (1 - _options.Headroom))));
        var localInterval = interval * KnownNodes;
        var horizon = Horizon(priority);
        var now = _local.Now();
        EndRecoveryAfterGrace(now);

        GcraDecision decision;
        RateLimitMode mode;
        if (!ShouldAskShared(now))
        {
            decision = _local.Decide(account.Id, localInterval, horizon, _maxRetryAfter);
            mode = RateLimitMode.Local;
        }
        else
        {
            GcraDecision? cap = null;
            if (Volatile.Read(ref _recoveringUntil) != 0)
            {
                cap = _local.Decide(account.Id, localInterval, horizon, _maxRetryAfter);
            }

            GcraDecision? shared = cap is { Granted: false } ? null : await _shared.DecideAsync(account.Id, interval, horizon, _maxRetryAfter, ct).ConfigureAwait(false);
            if (cap is { Granted: false } denied)
            {
                ReleaseProbe();
                decision = denied;
                mode = RateLimitMode.Recovering;
            }
            else if (shared is { } answer)
            {
                RedisAnswered(now);
                if (cap is { } local)
                {
                    decision = answer.Granted ? answer with { Wait = Math.Max(answer.Wait, local.Wait) } : answer;
                    mode = RateLimitMode.Recovering;
                }
                else
                {
                    decision = answer;
                    mode = RateLimitMode.Shared;
                    if (answer.Granted)
                    {
                        _local.Record(account.Id, answer.Wait, localInterval);
                    }
                }
            }
            else if (RedisFailed(now) || priority == Priority.Critical)
            {
                // The circuit is open now: limit locally. A critical send does not wait for the circuit; it is rare
                // enough that its local grant adds at most a message or two on top of the shared schedule.
                decision = cap ?? _local.Decide(account.Id, localInterval, horizon, _maxRetryAfter);
                mode = RateLimitMode.Local;
            }
            else
            {
                // One failed or slow call while the circuit is closed: the other nodes keep using the shared schedule,
                // so a local grant would come on top of it. Turn the send away briefly; it asks again.
                decision = new GcraDecision(false, 0, Math.Max(interval, _redisTimeout), now);
                mode = Volatile.Read(ref _recoveringUntil) != 0 ? RateLimitMode.Recovering : RateLimitMode.Shared;
            }
        }

        if (decision.Granted && decision.Wait >= 100)
        {
            await Task.Delay(TimeSpan.FromMicroseconds(decision.Wait), _time, ct).ConfigureAwait(false);
        }

        // A late send (its slot already well in the past: a starved node, a late Redis answer) would stack on the
        // on-time sends of the next window. Leave its slot unused instead. `now` was read before asking, so this
        // overestimates the lateness of a shared slot by the round trip: it errs on the safe side.
        if (decision.Granted && priority != Priority.Critical && _local.Now() - (now + decision.Wait) > _maxLateness)
        {
            decision = new GcraDecision(false, 0, interval, now);
        }

        var permit = decision.Granted
            ? new RatePermit(true, TimeSpan.FromMicroseconds(decision.Wait), TimeSpan.Zero, mode)
            : new RatePermit(false, TimeSpan.Zero, TimeSpan.FromMicroseconds(decision.RetryAfter), mode);
        _metrics.Permit(priority, mode, permit.Granted);
        return permit;
    }

    /// <summary>A heartbeat ended: <paramref name="live"/> is the number of live nodes, null when Redis did not answer.
    /// Heartbeats move the node between shared and local limiting also when it has nothing to send.</summary>
    public void OnHeartbeat(int? live)
    {
        var now = _local.Now();
        if (live is not { } count)
        {
            _ = RedisFailed(now);
            return;
        }

        if (Volatile.Read(ref _openUntil) != 0)
        {
            RedisAnswered(now);
        }

        OnLiveNodes(count);
        EndRecoveryAfterGrace(now);
    }

    /// <summary>The heartbeat read the number of live nodes.</summary>
    public void OnLiveNodes(int count)
    {
        var previous = Interlocked.Exchange(ref _knownNodes, Math.Max(1, count));
        if (previous != count && previous != 0)
        {
            LogLiveNodes(_logger, count);
        }

        if (Volatile.Read(ref _recoveringUntil) != 0 && count >= Volatile.Read(ref _expectedNodes)
            && Interlocked.Exchange(ref _recoveringUntil, 0) != 0)
        {
            LogShared(_logger, count);
            ReportMode();
        }
    }

    /// <summary>How far ahead a lane may book: critical furthest, so it always takes the next free slot.</summary>
    private long Horizon(Priority priority) => priority switch
    {
        Priority.Critical => Micros(_options.CriticalMaxWait),
        Priority.High => Micros(_options.MaxWait),
        Priority.Normal => Micros(_options.MaxWait) * 3 / 4,
        _ => Micros(_options.MaxWait) / 2,
    };

    private bool ShouldAskShared(long now)
    {
        if (!_shared.IsConfigured)
        {
            return false;
        }

        var openUntil = Volatile.Read(ref _openUntil);
        // Open: ask again only once the break is over, and then one probe at a time.
        return openUntil == 0 || (now >= openUntil && Interlocked.CompareExchange(ref _probing, 1, 0) == 0);
    }

    private void ReleaseProbe() => Volatile.Write(ref _probing, 0);

    private void RedisAnswered(long now)
    {
        Volatile.Write(ref _failures, 0);
        if (Volatile.Read(ref _openUntil) == 0)
        {
            return;
        }

        // Back from an outage: keep to the local share until the nodes known before it have announced themselves.
        Volatile.Write(ref _recoveringUntil, now + Math.Max(1, _recoveryGrace));
        Volatile.Write(ref _openUntil, 0);
        ReleaseProbe();
        LogRecovering(_logger, Volatile.Read(ref _expectedNodes));
        ReportMode();
    }

    /// <summary>Counts a failed Redis call; true when the circuit is open afterwards (the node limits locally).</summary>
    private bool RedisFailed(long now)
    {
        var openUntil = Volatile.Read(ref _openUntil);
        if (openUntil != 0)
        {
            // The probe failed: another break.
            Volatile.Write(ref _openUntil, now + _redisBreak);
            ReleaseProbe();
            return true;
        }

        if (Interlocked.Increment(ref _failures) >= _options.RedisFailuresToOpen
            && Interlocked.CompareExchange(ref _openUntil, now + _redisBreak, 0) == 0)
        {
            Volatile.Write(ref _expectedNodes, KnownNodes);
            Volatile.Write(ref _recoveringUntil, 0);
            LogFallback(_logger, KnownNodes);
            ReportMode();
        }

        return Volatile.Read(ref _openUntil) != 0;
    }

    private void EndRecoveryAfterGrace(long now)
    {
        var until = Volatile.Read(ref _recoveringUntil);
        if (until != 0 && now >= until && Interlocked.CompareExchange(ref _recoveringUntil, 0, until) == until)
        {
            LogShared(_logger, KnownNodes);
            ReportMode();
        }
    }

    private void ReportMode()
    {
        var mode = Mode;
        if (Interlocked.Exchange(ref _mode, (int)mode) != (int)mode)
        {
            _metrics.ModeChanged(mode);
        }
    }

    private static long Micros(TimeSpan span) => span.Ticks / (TimeSpan.TicksPerMillisecond / 1000);

    [LoggerMessage(EventId = 3600, Level = LogLevel.Warning, Message = "Shared rate limiter (Redis) not answering: limiting provider sends locally to 1/{Nodes} of each rate")]
    private static partial void LogFallback(ILogger logger, int nodes);

    [LoggerMessage(EventId = 3601, Level = LogLevel.Information, Message = "Shared rate limiter (Redis) answers again: keeping to the local share until {Nodes} node(s) are back")]
    private static partial void LogRecovering(ILogger logger, int nodes);

    [LoggerMessage(EventId = 3602, Level = LogLevel.Information, Message = "Provider rate limits shared again across {Nodes} live node(s)")]
    private static partial void LogShared(ILogger logger, int nodes);

    [LoggerMessage(EventId = 3603, Level = LogLevel.Information, Message = "Live sending nodes: {Nodes}")]
    private static partial void LogLiveNodes(ILogger logger, int nodes);
}
