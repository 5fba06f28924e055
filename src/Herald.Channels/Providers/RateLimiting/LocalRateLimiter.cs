using System.Collections.Concurrent;

namespace Herald.Channels.Providers.RateLimiting;

/// <summary>The node's own schedules, one per provider account, on the injected clock: the fallback when the shared
/// limiter cannot be asked, and the cap on this node's share while it comes back to the shared one.</summary>
public sealed class LocalRateLimiter(TimeProvider time)
{
    private readonly ConcurrentDictionary<Guid, Schedule> _schedules = new();

    /// <summary>Now on the local clock, in microseconds.</summary>
    public long Now() => (long)((Int128)time.GetTimestamp() * 1_000_000 / time.TimestampFrequency);

    public GcraDecision Decide(Guid accountId, long interval, long horizon, long maxRetryAfter) =>
        Decide(accountId, interval, horizon, maxRetryAfter, slots: 1, queue: true);

    /// <summary>See <see cref="Gcra.Decide(ref GcraState, long, long, long, long, int, bool)"/>.</summary>
    public GcraDecision Decide(Guid accountId, long interval, long horizon, long maxRetryAfter, int slots, bool queue)
    {
        var schedule = _schedules.GetOrAdd(accountId, static _ => new Schedule());
        lock (schedule)
        {
            return Gcra.Decide(ref schedule.State, Now(), interval, horizon, maxRetryAfter, slots, queue);
        }
    }

    /// <summary>See <see cref="Gcra.Record"/>; <paramref name="wait"/> is how far from now the send goes.</summary>
    public void Record(Guid accountId, long wait, long interval)
    {
        var schedule = _schedules.GetOrAdd(accountId, static _ => new Schedule());
        lock (schedule)
        {
            Gcra.Record(ref schedule.State, Now() + wait, interval);
        }
    }

    private sealed class Schedule
    {
        public GcraState State;
    }
}
