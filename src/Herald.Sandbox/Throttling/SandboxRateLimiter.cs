using System.Collections.Concurrent;

namespace Herald.Sandbox.Throttling;

/// <summary>Outcome of a rate-limit check.</summary>
public readonly record struct RateDecision(bool Allowed, int RetryAfterSeconds);

/// <summary>
/// Fixed one-second window per provider account, like the vendors' per-number / per-bot throughput.
/// Each window is one packed 64-bit word (second | count) updated by compare-and-swap: no locks on the send path.
/// </summary>
public sealed class SandboxRateLimiter(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Window> windows = new(StringComparer.Ordinal);

    /// <summary>Takes one slot in the current second for <paramref name="key"/>; 0 or less means unlimited.</summary>
    public RateDecision TryAcquire(string key, int limitPerSecond)
    {
        if (limitPerSecond <= 0)
        {
            return new RateDecision(true, 0);
        }

        var second = time.GetUtcNow().ToUnixTimeSeconds();
        var window = windows.GetOrAdd(key, static _ => new Window());
        while (true)
        {
            var state = Volatile.Read(ref window.State);
            var windowSecond = state >> 32;
            var used = (int)(state & 0xFFFF_FFFF);
            long next;
            if (windowSecond >= second)
            {
                if (used >= limitPerSecond)
                {
                    return new RateDecision(false, 1);
                }

                next = state + 1;
            }
            else
            {
                next = (second << 32) | 1;
            }

            if (Interlocked.CompareExchange(ref window.State, next, state) == state)
            {
                return new RateDecision(true, 0);
            }
        }
    }

    /// <summary>Forgets every window.</summary>
    public void Reset() => windows.Clear();

    private sealed class Window
    {
        public long State;
    }
}
