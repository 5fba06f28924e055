namespace Herald.Channels.Providers.RateLimiting;

/// <summary>The schedule of one provider account: the theoretical arrival time of the next free slot
/// (<see cref="Tat"/>) and the virtual one handed to sends that were turned away (<see cref="VirtualTat"/>),
/// both in microseconds of the deciding clock.</summary>
public struct GcraState
{
    public long Tat;
    public long VirtualTat;
}

/// <param name="Granted">At least one slot was booked; the first send may go after <paramref name="Wait"/>.</param>
/// <param name="Wait">Microseconds from the decision to the first booked slot.</param>
/// <param name="RetryAfter">Microseconds after which a turned-away send should ask again.</param>
/// <param name="Now">The deciding clock's time (microseconds), so callers can tell the slot's absolute time.</param>
public readonly record struct GcraDecision(bool Granted, long Wait, long RetryAfter, long Now)
{
    /// <summary>Slots booked, one interval apart from <see cref="Wait"/> on (several when asked for several).</summary>
    public int Slots { get; init; } = 1;
}

/// <summary>
/// GCRA with booking and no burst: every granted send books the next slot, one emission interval after the previous
/// one, so no two permits are closer than the interval and no one-second window holds more than
/// <c>1 s / interval</c> of them. A send may book up to its lane's <c>horizon</c> ahead; beyond that it is turned
/// away with a retry-after taken from a virtual queue, so turned-away sends come back spread at the rate instead of
/// all at once. The Lua script in <see cref="SharedRateLimiter"/> is the same algorithm, line for line.
/// </summary>
public static class Gcra
{
    public static GcraDecision Decide(ref GcraState state, long now, long interval, long horizon, long maxRetryAfter) =>
        Decide(ref state, now, interval, horizon, maxRetryAfter, slots: 1, queue: true);

    /// <summary>Books up to <paramref name="slots"/> consecutive slots within the horizon. When none is free and
    /// <paramref name="queue"/> is set, the send takes a virtual slot (the turned-away sends come back spread);
    /// otherwise nothing changes and the retry-after is when the next free slot comes within the horizon (a node's
    /// line asking again for the sends that wait in it).</summary>
    public static GcraDecision Decide(ref GcraState state, long now, long interval, long horizon, long maxRetryAfter, int slots, bool queue)
    {
        var tat = Math.Max(state.Tat, now);
        var wait = tat - now;
        if (wait <= horizon)
        {
            var booked = 0;
            while (booked < Math.Max(1, slots) && tat - now <= horizon)
            {
                tat += interval;
                booked++;
            }

            state.Tat = tat;
            return new GcraDecision(true, wait, 0, now) { Slots = booked };
        }

        if (!queue)
        {
            return new GcraDecision(false, 0, Math.Max(wait - horizon, 1), now) { Slots = 0 };
        }

        var virtualTat = Math.Min(Math.Max(state.VirtualTat, tat) + interval, now + horizon + maxRetryAfter);
        state.VirtualTat = virtualTat;
        return new GcraDecision(false, 0, Math.Max(virtualTat - now - horizon, interval), now) { Slots = 0 };
    }

    /// <summary>Remembers a send this node made with a permit from elsewhere (the shared limiter), so that a switch
    /// to local limiting continues one local interval after it instead of starting with a free slot.</summary>
    public static void Record(ref GcraState state, long sendAt, long interval) => state.Tat = sendAt + interval;
}
