using Herald.Channels.Providers.RateLimiting;

namespace Herald.Channels.Tests.RateLimiting;

/// <summary>The schedule both limiters share (the Lua script is the same algorithm): no burst, lanes, spread retries.</summary>
public sealed class GcraTests
{
    private const long Interval = 10_000; // 100/s
    private const long MaxRetry = 60_000_000;

    [Fact]
    public void Decide_RandomArrivals_GrantsAreNeverCloserThanTheIntervalAndNoWindowHoldsMoreThanTheRate()
    {
        var state = new GcraState();
        var random = new Random(7);
        var now = 1_000_000L;
        var slots = new List<long>();
        for (var i = 0; i < 20_000; i++)
        {
            now += random.Next(0, 4_000);
            var decision = Gcra.Decide(ref state, now, Interval, horizon: 25_000, MaxRetry);
            if (decision.Granted)
            {
                slots.Add(decision.Now + decision.Wait);
            }
        }

        Assert.All(slots.Zip(slots.Skip(1)), pair => Assert.True(pair.Second - pair.First >= Interval));
        Assert.Equal(100, SlidingMax(slots));
    }

    [Fact]
    public void Decide_SeveralSlots_BooksConsecutiveSlotsWithinTheHorizonOnly()
    {
        var state = new GcraState();

        // 25 ms ahead at 10 ms apart: slots at +0, +10 and +20 ms; +30 ms lies beyond the horizon.
        var first = Gcra.Decide(ref state, 0, Interval, 25_000, MaxRetry, slots: 8, queue: false);
        Assert.True(first.Granted);
        Assert.Equal((0L, 3), (first.Wait, first.Slots));

        // The next free slot is 30 ms ahead: not now, and without touching the virtual queue, ask again in 5 ms.
        var full = Gcra.Decide(ref state, 0, Interval, 25_000, MaxRetry, slots: 8, queue: false);
        Assert.False(full.Granted);
        Assert.Equal((0, 5_000L), (full.Slots, full.RetryAfter));
        Assert.Equal(0, state.VirtualTat);

        var later = Gcra.Decide(ref state, 5_000, Interval, 25_000, MaxRetry, slots: 2, queue: false);
        Assert.Equal((true, 25_000L, 1), (later.Granted, later.Wait, later.Slots));
    }

    [Fact]
    public void Decide_IdleSchedule_BanksNoBurst()
    {
        var state = new GcraState();
        Assert.True(Gcra.Decide(ref state, 0, Interval, 0, MaxRetry).Granted);

        // Ten idle seconds later only one send goes at once: unused slots are not saved up.
        Assert.True(Gcra.Decide(ref state, 10_000_000, Interval, 0, MaxRetry).Granted);
        Assert.False(Gcra.Decide(ref state, 10_000_000, Interval, 0, MaxRetry).Granted);
    }

    [Fact]
    public void Decide_SaturatedByLowLane_CriticalBooksTheNextSlotWhileLowIsTurnedAway()
    {
        var state = new GcraState();
        const long low = 25_000, critical = 250_000;
        var granted = 0;
        while (Gcra.Decide(ref state, 0, Interval, low, MaxRetry).Granted)
        {
            granted++;
        }

        var forCritical = Gcra.Decide(ref state, 0, Interval, critical, MaxRetry);
        var forLow = Gcra.Decide(ref state, 0, Interval, low, MaxRetry);

        Assert.Equal(3, granted); // slots at 0, 10 and 20 ms; 30 ms is past the low lane's 25 ms
        Assert.True(forCritical.Granted);
        Assert.Equal(30_000, forCritical.Wait); // the very next slot, ahead of every low send still to come
        Assert.False(forLow.Granted);
    }

    [Fact]
    public void Decide_TurnedAwaySends_ComeBackOneIntervalApartInArrivalOrder()
    {
        var state = new GcraState();
        Assert.True(Gcra.Decide(ref state, 0, Interval, 0, MaxRetry).Granted);

        var retries = Enumerable.Range(0, 5).Select(_ => Gcra.Decide(ref state, 0, Interval, 0, MaxRetry)).ToList();

        Assert.All(retries, r => Assert.False(r.Granted));
        Assert.Equal([20_000L, 30_000, 40_000, 50_000, 60_000], retries.Select(r => r.RetryAfter));
    }

    [Fact]
    public void Decide_VirtualQueueLongerThanMaxRetryAfter_IsCapped()
    {
        var state = new GcraState();
        Gcra.Decide(ref state, 0, Interval, 0, maxRetryAfter: 50_000);
        var last = default(GcraDecision);
        for (var i = 0; i < 100; i++)
        {
            last = Gcra.Decide(ref state, 0, Interval, 0, maxRetryAfter: 50_000);
        }

        Assert.Equal(50_000, last.RetryAfter);
    }

    /// <summary>Most slots in any window (t − 1 s, t].</summary>
    internal static int SlidingMax(IReadOnlyList<long> sortedMicros)
    {
        var max = 0;
        var start = 0;
        for (var end = 0; end < sortedMicros.Count; end++)
        {
            while (sortedMicros[start] <= sortedMicros[end] - 1_000_000)
            {
                start++;
            }

            max = Math.Max(max, end - start + 1);
        }

        return max;
    }
}
