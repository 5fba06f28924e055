using System.Collections.Concurrent;
using Herald.Core.Notifications;
using Herald.Core.Providers;
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
/// The cluster-wide, priority-aware provider rate limit (docs/channels/RATE-LIMITS.md). Non-critical sends wait in the
/// node's line for the account (at most <see cref="RateLimitOptions.MaxQueueWait"/>), whose single pump books slots on
/// the shared schedule in Redis for the head of the line, several per call; a critical send books its slot at once.
/// A slow Redis only slows the pump (nothing is granted locally while the circuit is closed); the circuit opens when
/// the connection is gone or no call has been answered for <see cref="RateLimitOptions.RedisDownAfter"/>, and then the
/// node limits itself to <c>rate / nodes</c>.
/// </summary>
public sealed partial class ProviderRateLimiter : IProviderRateLimiter
{
    /// <summary>Most slots one booking call takes for the waiters at the head of a line.</summary>
    private const int MaxSlotsPerCall = 8;

    private readonly SharedRateLimiter _shared;
    private readonly LocalRateLimiter _local;
    private readonly RateLimitOptions _options;
    private readonly TimeProvider _time;
    private readonly IRateLimitMetrics _metrics;
    private readonly ILogger<ProviderRateLimiter> _logger;
    private readonly RateLimitInstruments? _instruments;
    private readonly TaskCompletionSource _activated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<Guid, Line> _lines = new();
    private readonly long _maxRetryAfter;
    private readonly long _redisBreak;
    private readonly long _recoveryGrace;
    private readonly long _recoverySettle;
    private readonly long _redisDownAfter;
    private readonly long _maxLateness;
    private readonly long _maxQueueWait;
    private readonly long _partitionGrace;

    private int _unreachable;
    private long _failingSince;
    private long _lastAnswer;
    private long _openUntil;
    private int _probing;
    private long _recoveringUntil;
    private int _expectedNodes;
    private int _knownLive;
    private int _knownLost;
    private int _mode = -1;

    public ProviderRateLimiter(
        SharedRateLimiter shared,
        LocalRateLimiter local,
        IOptions<RateLimitOptions> options,
        TimeProvider time,
        IRateLimitMetrics metrics,
        ILogger<ProviderRateLimiter> logger,
        RateLimitInstruments? instruments = null)
    {
        _shared = shared;
        _local = local;
        _options = options.Value;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _instruments = instruments;
        _maxRetryAfter = Micros(_options.MaxRetryAfter);
        _redisBreak = Micros(_options.RedisBreak);
        _recoveryGrace = Micros(_options.RecoveryGrace);
        _recoverySettle = Math.Min(_recoveryGrace, Micros(TimeSpan.FromSeconds(1) + _options.CriticalMaxWait));
        _redisDownAfter = Micros(_options.RedisDownAfter);
        _maxLateness = Micros(_options.MaxLateness);
        _maxQueueWait = Micros(_options.MaxQueueWait);
        // By then every other node has seen this node's heartbeat expire and keeps its share free (LostNodeReserve):
        // the entry expires NodeTimeout after the last heartbeat, and each other node reads that at its next
        // heartbeat, one interval later; one more interval covers a late timer or a slow heartbeat call.
        _partitionGrace = Micros(_options.NodeTimeout + (2 * _options.HeartbeatInterval));
    }

    /// <summary>This process's entry in the live-node registry.</summary>
    public string NodeId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    /// <summary>Completes when the node first asked for a permit: only nodes that send announce themselves.</summary>
    public Task Activated => _activated.Task;

    /// <summary>Nodes that may be sending (live and lost) as last read from Redis; <see cref="RateLimitOptions.AssumedNodes"/>
    /// until then. The local share is the rate over this.</summary>
    public int KnownNodes => Volatile.Read(ref _knownLive) is > 0 and var live ? live + Volatile.Read(ref _knownLost) : _options.AssumedNodes;

    /// <summary>The number of nodes the rate is divided among for this node's own share. While recovering from a Redis
    /// outage it is at least the number known before the outage: a restarted Redis counts only the nodes that have
    /// announced themselves since, and the others may still be limiting locally at their share.</summary>
    public int ShareNodes => Volatile.Read(ref _recoveringUntil) != 0 ? Math.Max(KnownNodes, Volatile.Read(ref _expectedNodes)) : KnownNodes;

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
        var permit = priority == Priority.Critical
            ? await AcquireCriticalAsync(account.Id, interval, ct).ConfigureAwait(false)
            : await _lines.GetOrAdd(account.Id, static (id, limiter) => new Line(limiter, id), this).WaitAsync(priority, interval, ct).ConfigureAwait(false);
        _metrics.Permit(priority, permit.Mode, permit.Granted);
        return permit;
    }

    /// <summary>A critical send does not queue: it books the next free slot within its (longer) horizon at once, and
    /// is never dropped for lateness.</summary>
    private async Task<RatePermit> AcquireCriticalAsync(Guid accountId, long interval, CancellationToken ct)
    {
        var (decision, mode, reason) = await DecideAsync(accountId, interval, Priority.Critical, 1, ct).ConfigureAwait(false);
        if (!decision.Granted)
        {
            _instruments?.Denied(reason);
            return new RatePermit(false, TimeSpan.Zero, TimeSpan.FromMicroseconds(Math.Max(decision.RetryAfter, interval)), mode);
        }

        if (decision.Wait >= 100)
        {
            await Task.Delay(TimeSpan.FromMicroseconds(decision.Wait), _time, ct).ConfigureAwait(false);
        }

        return new RatePermit(true, TimeSpan.FromMicroseconds(decision.Wait), TimeSpan.Zero, mode);
    }

    /// <summary>One decision for <paramref name="slots"/> sends of <paramref name="priority"/>: from the shared
    /// schedule, the local one, or both while recovering. <see cref="GcraDecision.Now"/> of the result is the local
    /// time before asking, so <c>Now + Wait</c> is the first slot on the local clock (a Redis slot is no later).</summary>
    private async Task<(GcraDecision Decision, RateLimitMode Mode, DenialReason Reason)> DecideAsync(
        Guid accountId, long interval, Priority priority, int slots, CancellationToken ct)
    {
        var now = _local.Now();
        EndRecoveryAfterGrace(now);
        var critical = priority == Priority.Critical;
        var localInterval = interval * ShareNodes;
        var horizon = Horizon(priority);
        if (!ShouldAskShared(now))
        {
            return (LocalDecision(accountId, localInterval, horizon, slots, critical, now), RateLimitMode.Local, DenialReason.LocalShare);
        }

        GcraDecision? cap = null;
        if (Volatile.Read(ref _recoveringUntil) != 0)
        {
            // One slot at a time, booked on the shared schedule only when the local slot comes: a shared slot booked
            // now for a send that the local cap holds back would be in the past when the send goes, and once the
            // recovery ends the shared schedule would grant that time again to other sends.
            cap = _local.Decide(accountId, localInterval, horizon, _maxRetryAfter, 1, queue: critical);
            if (cap is { Granted: false } denied)
            {
                ReleaseProbe();
                return (denied with { Now = now }, RateLimitMode.Recovering, DenialReason.LocalShare);
            }

            if (cap.Value.Wait >= 100)
            {
                await Task.Delay(TimeSpan.FromMicroseconds(cap.Value.Wait), _time, ct).ConfigureAwait(false);
            }
        }

        // While lost nodes may still be sending on their local share, the live ones keep that share free.
        var sharedInterval = SharedInterval(interval);
        var answer = await _shared.BookAsync(accountId, sharedInterval, horizon, _maxRetryAfter, cap?.Slots ?? slots, queue: critical,
            critical ? _options.CriticalRedisTimeout : _options.RedisTimeout, ct).ConfigureAwait(false);
        if (answer.Decision is { } shared)
        {
            RedisAnswered(_local.Now());
            // The slot on the local clock: the Redis time of the decision mapped with the tightest offset seen lately
            // (never earlier than the time before asking), so a slow answer does not make an on-time slot look late.
            shared = shared with { Now = answer.LocalNow };
            if (cap is not null)
            {
                // The local slot has come (waited for above), so the shared slot alone says when the send goes.
                return (shared, RateLimitMode.Recovering, DenialReason.Schedule);
            }

            if (shared.Granted)
            {
                _local.Record(accountId, shared.Wait + ((shared.Slots - 1) * sharedInterval), localInterval);
            }

            return (shared, RateLimitMode.Shared, DenialReason.Schedule);
        }

        var after = _local.Now();
        if (RedisFailed(after, answer.Unreachable) || critical)
        {
            // The circuit is open now: limit locally. A critical send does not wait for the circuit; it is rare
            // enough that its local grant adds at most a message or two on top of the shared schedule.
            return (LocalDecision(accountId, localInterval, horizon, slots, critical, after) with { Now = after }, RateLimitMode.Local, DenialReason.LocalShare);
        }

        // Redis slow or briefly unreachable while the circuit is closed: the other nodes keep using the shared
        // schedule, so a local grant would come on top of it. No slot; the line asks again (a timed-out call has
        // waited already; after a refused connection it pauses one interval).
        var mode = Volatile.Read(ref _recoveringUntil) != 0 ? RateLimitMode.Recovering : RateLimitMode.Shared;
        return (new GcraDecision(false, 0, answer.Unreachable ? interval : 1, after) { Slots = 0 }, mode, DenialReason.RedisUnanswered);
    }

    /// <summary>A decision on the node's own schedule. A node that lost Redis while other nodes were live does not
    /// know whether they lost it too: until they have certainly seen its heartbeat expire (and keep its share free),
    /// it grants only critical sends.</summary>
    private GcraDecision LocalDecision(Guid accountId, long localInterval, long horizon, int slots, bool critical, long now)
    {
        if (!critical && PartitionGraceUntil() is var until && now < until)
        {
            return new GcraDecision(false, 0, until - now, now) { Slots = 0 };
        }

        return _local.Decide(accountId, localInterval, horizon, _maxRetryAfter, slots, queue: critical) with { Now = now };
    }

    /// <summary>Local time before which a node whose circuit is open grants no non-critical send; 0 when none.</summary>
    private long PartitionGraceUntil()
    {
        var lastAnswer = Volatile.Read(ref _lastAnswer);
        return lastAnswer != 0 && Volatile.Read(ref _expectedNodes) > 1 ? lastAnswer + _partitionGrace : 0;
    }

    /// <summary>The shared schedule's interval: the rate less the shares of lost nodes.</summary>
    private long SharedInterval(long interval)
    {
        var live = Volatile.Read(ref _knownLive);
        var lost = Volatile.Read(ref _knownLost);
        return live > 0 && lost > 0 ? (long)Math.Ceiling(interval * (live + lost) / (double)live) : interval;
    }

    /// <summary>A heartbeat ended: the live and lost nodes, null when Redis did not answer. Heartbeats move the node
    /// between shared and local limiting also when it has nothing to send.</summary>
    public void OnHeartbeat(LiveNodes? nodes)
    {
        var now = _local.Now();
        if (nodes is not { } count)
        {
            _ = RedisFailed(now, !_shared.IsConnected);
            return;
        }

        RedisAnswered(now);
        OnLiveNodes(count);
        EndRecoveryAfterGrace(now);
    }

    /// <summary>The heartbeat read the registry of nodes.</summary>
    public void OnLiveNodes(LiveNodes nodes)
    {
        var live = Math.Max(1, nodes.Live);
        var previous = Interlocked.Exchange(ref _knownLive, live);
        var previousLost = Interlocked.Exchange(ref _knownLost, Math.Max(0, nodes.Lost));
        if ((previous != live || previousLost != nodes.Lost) && previous != 0)
        {
            LogLiveNodes(_logger, live, nodes.Lost);
        }

        // Every node known before the outage has announced itself, so none grants on its own schedule any more. Their
        // last local grants are not on the shared schedule, though: keep to the share until those are a whole window
        // (one second, plus the furthest a lane books ahead) in the past, so no second holds local and shared grants
        // beyond the rate.
        var until = Volatile.Read(ref _recoveringUntil);
        var settled = _local.Now() + _recoverySettle;
        if (until != 0 && live >= Volatile.Read(ref _expectedNodes) && until > settled)
        {
            Interlocked.CompareExchange(ref _recoveringUntil, settled, until);
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
        Volatile.Write(ref _lastAnswer, now);
        Volatile.Write(ref _unreachable, 0);
        Volatile.Write(ref _failingSince, 0);
        if (Volatile.Read(ref _openUntil) == 0)
        {
            return;
        }

        // Back from an outage: keep to the local share until the nodes known before it have announced themselves.
        Volatile.Write(ref _recoveringUntil, now + Math.Max(1, _recoveryGrace));
        Volatile.Write(ref _openUntil, 0);
        ReleaseProbe();
        LogRecovering(_logger, Volatile.Read(ref _expectedNodes));
        _instruments?.Circuit(open: false);
        ReportMode();
    }

    /// <summary>Counts a failed Redis call; true when the circuit is open afterwards (the node limits locally). It
    /// opens on <see cref="RateLimitOptions.RedisFailuresToOpen"/> consecutive connection failures (Redis down), or
    /// when nothing has been answered for <see cref="RateLimitOptions.RedisDownAfter"/> (Redis hung or cut off); a
    /// merely slow Redis, which still answers now and then, keeps it closed.</summary>
    private bool RedisFailed(long now, bool unreachable)
    {
        var openUntil = Volatile.Read(ref _openUntil);
        if (openUntil != 0)
        {
            // The probe failed: another break.
            Volatile.Write(ref _openUntil, now + _redisBreak);
            ReleaseProbe();
            return true;
        }

        Interlocked.CompareExchange(ref _failingSince, now, 0);
        var refused = unreachable ? Interlocked.Increment(ref _unreachable) : Volatile.Read(ref _unreachable);
        var failingFor = now - Volatile.Read(ref _failingSince);
        // Refused connections open the circuit at once only for a node that has been answered before. A node that is
        // still connecting (a start on a busy machine takes seconds) would otherwise limit itself locally at the
        // assumed share while the other nodes share the schedule in Redis: measured, 165 sends in a second at a
        // limit of 100. Until its first answer only the time without one counts.
        var refusedAfterAnswers = refused >= _options.RedisFailuresToOpen && Volatile.Read(ref _lastAnswer) != 0;
        if ((refusedAfterAnswers || failingFor >= _redisDownAfter)
            && Interlocked.CompareExchange(ref _openUntil, now + _redisBreak, 0) == 0)
        {
            Volatile.Write(ref _expectedNodes, Volatile.Read(ref _knownLive) is > 0 and var live ? live : _options.AssumedNodes);
            Volatile.Write(ref _recoveringUntil, 0);
            LogFallback(_logger, KnownNodes, failingFor / 1000);
            _instruments?.Circuit(open: true);
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

    /// <summary>
    /// The node's line for one account: non-critical sends wait here, highest lane first, then in arrival order, for
    /// at most <see cref="RateLimitOptions.MaxQueueWait"/>. One pump books slots for the head of the line (several per
    /// call, the head's lane horizon) and asks again exactly when the next free slot comes within reach, so the node
    /// neither floods Redis with one call per waiting send nor sends them back through the queue to be claimed again.
    /// The line holds what the node can expect to send within MaxQueueWait at its share of the rate; sends beyond that
    /// are turned away at once with a retry-after from a local virtual queue at the node's share, so that turned-away
    /// sends come back spread at the rate.
    /// </summary>
    private sealed class Line(ProviderRateLimiter limiter, Guid accountId)
    {
        private readonly LinkedList<Waiter>[] _lanes = [new(), new(), new()]; // high, normal, low
        private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _pumping;
        private Priority _pumpingFor;
        private long _virtualTat;

        public async Task<RatePermit> WaitAsync(Priority priority, long interval, CancellationToken ct)
        {
            var arrived = limiter._local.Now();
            var deadline = arrived + limiter._maxQueueWait;
            while (true)
            {
                var waiter = Enter(priority, interval, arrived, deadline);
                if (waiter is null)
                {
                    return TurnAway(limiter._local.Now(), interval, DenialReason.LineFull);
                }

                Slot slot;
                await using (ct.Register(static w => ((Waiter)w!).Cancel(), waiter))
                {
                    slot = await waiter.Result.Task.ConfigureAwait(false);
                }

                if (!slot.Granted)
                {
                    return slot.Turned;
                }

                var now = limiter._local.Now();
                if (slot.At - now >= 100)
                {
                    await Task.Delay(TimeSpan.FromMicroseconds(slot.At - now), limiter._time, ct).ConfigureAwait(false);
                    now = limiter._local.Now();
                }

                // A late send (its slot already well in the past: a starved node, a late Redis answer) would stack on
                // the on-time sends of the next window. Its slot stays unused; the send queues again while it may.
                // `At` was computed from the time before asking, so this errs on the safe side.
                if (now - slot.At <= limiter._maxLateness)
                {
                    return new RatePermit(true, TimeSpan.FromMicroseconds(now - arrived), TimeSpan.Zero, slot.Mode);
                }

                limiter._instruments?.Denied(DenialReason.Late);
                if (now >= deadline)
                {
                    return TurnAway(now, interval, DenialReason.Late, slot.Mode);
                }
            }
        }

        private Waiter? Enter(Priority priority, long interval, long arrived, long deadline)
        {
            var waiter = new Waiter(this, priority, arrived, deadline);
            var start = false;
            lock (_lanes)
            {
                // What the node can expect to send within MaxQueueWait at its share of the rate.
                var capacity = Math.Max(1, limiter._maxQueueWait / Math.Max(1, interval * limiter.ShareNodes));
                var ahead = 0;
                for (var lane = 0; lane <= Lane(priority); lane++)
                {
                    ahead += _lanes[lane].Count;
                }

                if (ahead >= capacity)
                {
                    return null;
                }

                waiter.Node = _lanes[Lane(priority)].AddLast(waiter);
                if (!_pumping)
                {
                    _pumping = true;
                    _pumpingFor = priority;
                    start = true;
                }
                else if (priority < _pumpingFor)
                {
                    _wake.TrySetResult();
                }
            }

            if (start)
            {
                // Runs on this caller until its first real wait (a Redis call, a pause), then on its own.
                _ = PumpGuardedAsync(interval);
            }

            return waiter;
        }

        private async Task PumpGuardedAsync(long interval)
        {
            try
            {
                await PumpAsync(interval).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // Not expected (the limiter does not throw for Redis trouble). Never leave sends waiting on a dead pump.
                LogPumpFailed(limiter._logger, e);
                lock (_lanes)
                {
                    _pumping = false;
                    var now = limiter._local.Now();
                    foreach (var lane in _lanes)
                    {
                        while (lane.First is { } node)
                        {
                            lane.RemoveFirst();
                            node.Value.Node = null;
                            node.Value.Result.TrySetResult(new Slot(false, 0, limiter.Mode, TurnAway(now, interval, DenialReason.WaitedTooLong)));
                        }
                    }
                }
            }
        }

        private async Task PumpAsync(long interval)
        {
            while (true)
            {
                List<Waiter> heads;
                Priority lane;
                long sleep;
                lock (_lanes)
                {
                    var now = limiter._local.Now();
                    ExpireOverdue(now, interval);
                    var first = Array.FindIndex(_lanes, l => l.Count > 0);
                    if (first < 0)
                    {
                        _pumping = false;
                        return;
                    }

                    lane = _lanes[first].First!.Value.Priority;
                    _pumpingFor = lane;
                    if (_wake.Task.IsCompleted)
                    {
                        _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    }

                    heads = [.. _lanes[first].Take(MaxSlotsPerCall)];
                    foreach (var head in heads)
                    {
                        head.Tried = true;
                    }
                }

                var (decision, mode, reason) = await limiter.DecideAsync(accountId, interval, lane, heads.Count, CancellationToken.None).ConfigureAwait(false);
                lock (_lanes)
                {
                    if (decision.Granted)
                    {
                        // The slots go to whoever is at the head now (a head may have been cancelled meanwhile).
                        var step = decision.Slots > 1 ? limiter.SharedIntervalOrLocal(interval, mode) : 0;
                        for (var i = 0; i < decision.Slots && Array.FindIndex(_lanes, l => l.Count > 0) is var at and >= 0; i++)
                        {
                            var head = _lanes[at].First!.Value;
                            _lanes[at].RemoveFirst();
                            head.Node = null;
                            head.Result.TrySetResult(new Slot(true, decision.Now + decision.Wait + (i * step), mode, default));
                        }

                        continue;
                    }

                    if (reason != DenialReason.RedisUnanswered)
                    {
                        limiter._instruments?.Denied(reason);
                    }

                    sleep = Math.Max(1, decision.RetryAfter);
                    var earliest = _lanes.Where(l => l.Count > 0).Select(l => l.Min(w => w.Deadline)).DefaultIfEmpty(long.MaxValue).Min();
                    sleep = Math.Min(sleep, Math.Max(1, earliest - limiter._local.Now()));
                }

                if (sleep >= 100)
                {
                    using var stop = new CancellationTokenSource();
                    var wake = _wake.Task;
                    await Task.WhenAny(Task.Delay(TimeSpan.FromMicroseconds(sleep), limiter._time, stop.Token), wake).ConfigureAwait(false);
                    await stop.CancelAsync().ConfigureAwait(false);
                }
            }
        }

        /// <summary>Turns away the waiters whose time in the line is up.</summary>
        private void ExpireOverdue(long now, long interval)
        {
            foreach (var lane in _lanes)
            {
                for (var node = lane.First; node is not null;)
                {
                    var next = node.Next;
                    // A waiter with no time to wait at all (MaxQueueWait 0) still gets one try.
                    if (node.Value.Deadline <= now && (node.Value.Tried || node.Value.Deadline > node.Value.Arrived))
                    {
                        lane.Remove(node);
                        node.Value.Node = null;
                        node.Value.Result.TrySetResult(new Slot(false, 0, limiter.Mode, TurnAway(now, interval, DenialReason.WaitedTooLong)));
                    }

                    node = next;
                }
            }
        }

        /// <summary>No slot: come back after the sends already waiting here and those turned away before, one share
        /// interval apart.</summary>
        private RatePermit TurnAway(long now, long interval, DenialReason reason, RateLimitMode? mode = null)
        {
            long retry;
            lock (_lanes)
            {
                var share = interval * limiter.ShareNodes;
                var waiting = _lanes.Sum(l => l.Count);
                _virtualTat = Math.Min(Math.Max(_virtualTat, now + (waiting * share)) + share, now + limiter._maxRetryAfter);
                retry = Math.Max(_virtualTat - now, interval);
            }

            limiter._instruments?.Denied(reason);
            return new RatePermit(false, TimeSpan.Zero, TimeSpan.FromMicroseconds(retry), mode ?? limiter.Mode);
        }

        private static int Lane(Priority priority) => priority switch
        {
            Priority.High => 0,
            Priority.Normal => 1,
            _ => 2,
        };

        private readonly record struct Slot(bool Granted, long At, RateLimitMode Mode, RatePermit Turned);

        private sealed class Waiter(Line line, Priority priority, long arrived, long deadline)
        {
            public Priority Priority => priority;

            public long Arrived => arrived;

            /// <summary>A booking was asked for with this waiter at the head.</summary>
            public bool Tried { get; set; }

            public long Deadline => deadline;

            public LinkedListNode<Waiter>? Node { get; set; }

            public TaskCompletionSource<Slot> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public void Cancel()
            {
                lock (line._lanes)
                {
                    if (Node is { List: { } list } node)
                    {
                        list.Remove(node);
                        Node = null;
                    }
                }

                Result.TrySetCanceled();
            }
        }
    }

    /// <summary>The spacing of the slots one call booked.</summary>
    private long SharedIntervalOrLocal(long interval, RateLimitMode mode) => mode switch
    {
        RateLimitMode.Shared => SharedInterval(interval),
        RateLimitMode.Local => interval * ShareNodes,
        _ => Math.Max(SharedInterval(interval), interval * ShareNodes),
    };

    [LoggerMessage(EventId = 3670, Level = LogLevel.Error, Message = "Provider rate limiter: the line's pump failed; its waiting sends were turned away")]
    private static partial void LogPumpFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3600, Level = LogLevel.Warning, Message = "Shared rate limiter (Redis) not answering for {FailingMs} ms: limiting provider sends locally to 1/{Nodes} of each rate")]
    private static partial void LogFallback(ILogger logger, int nodes, long failingMs);

    [LoggerMessage(EventId = 3601, Level = LogLevel.Information, Message = "Shared rate limiter (Redis) answers again: keeping to the local share until {Nodes} node(s) are back")]
    private static partial void LogRecovering(ILogger logger, int nodes);

    [LoggerMessage(EventId = 3602, Level = LogLevel.Information, Message = "Provider rate limits shared again across {Nodes} live node(s)")]
    private static partial void LogShared(ILogger logger, int nodes);

    [LoggerMessage(EventId = 3603, Level = LogLevel.Information, Message = "Live sending nodes: {Nodes}, lost (share kept free): {Lost}")]
    private static partial void LogLiveNodes(ILogger logger, int nodes, int lost);
}
