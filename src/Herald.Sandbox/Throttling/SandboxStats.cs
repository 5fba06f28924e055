using System.Collections.Concurrent;

namespace Herald.Sandbox.Throttling;

/// <summary>Counters of one channel or one provider account.</summary>
public sealed class SandboxCounters
{
    private long accepted;
    private long rateLimited;
    private long rejected;
    private long failed;
    private long maxPerSecond;
    private long secondState;
    private readonly Queue<long> lastSecond = new();
    private long maxPerSlidingSecond;
    private long firstAcceptedTicks;
    private long lastAcceptedTicks;

    /// <summary>Sends accepted (2xx).</summary>
    public long Accepted => Interlocked.Read(ref accepted);

    /// <summary>Sends refused by the rate limit (Telegram 429, WhatsApp 130429).</summary>
    public long RateLimited => Interlocked.Read(ref rateLimited);

    /// <summary>Sends refused as invalid, unauthorised or permanently undeliverable (4xx other than rate).</summary>
    public long Rejected => Interlocked.Read(ref rejected);

    /// <summary>Sends answered with a simulated transient 5xx.</summary>
    public long Failed => Interlocked.Read(ref failed);

    /// <summary>Highest number of sends accepted within one wall-clock second.</summary>
    public long MaxPerSecond => Interlocked.Read(ref maxPerSecond);

    /// <summary>Highest number of sends accepted within any one-second window (sliding: every window
    /// <c>(t − 1 s, t]</c>, not only those starting on a whole second): what a provider enforcing "N per second" sees.</summary>
    public long MaxPerSlidingSecond
    {
        get
        {
            lock (lastSecond)
            {
                return maxPerSlidingSecond;
            }
        }
    }

    /// <summary>When the first counted send was accepted, or null.</summary>
    public DateTimeOffset? FirstAcceptedAt => Interlocked.Read(ref firstAcceptedTicks) is > 0 and var t ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>When the last counted send was accepted, or null.</summary>
    public DateTimeOffset? LastAcceptedAt => Interlocked.Read(ref lastAcceptedTicks) is > 0 and var t ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <param name="at">Wall-clock time of the acceptance (its second feeds <see cref="MaxPerSecond"/>).</param>
    /// <param name="timestampMicros">Monotonic time in microseconds (feeds <see cref="MaxPerSlidingSecond"/>).</param>
    internal void RecordAccepted(DateTimeOffset at, long timestampMicros)
    {
        lock (lastSecond)
        {
            // Keep exactly the acceptances of the last second; the window ending now is the largest ending here.
            while (lastSecond.Count > 0 && lastSecond.Peek() <= timestampMicros - 1_000_000)
            {
                lastSecond.Dequeue();
            }

            lastSecond.Enqueue(timestampMicros);
            maxPerSlidingSecond = Math.Max(maxPerSlidingSecond, lastSecond.Count);
            if (firstAcceptedTicks == 0)
            {
                Interlocked.Exchange(ref firstAcceptedTicks, at.UtcTicks);
            }

            Interlocked.Exchange(ref lastAcceptedTicks, Math.Max(lastAcceptedTicks, at.UtcTicks));
        }

        RecordAcceptedInSecond(at.ToUnixTimeSeconds());
    }

    private void RecordAcceptedInSecond(long second)
    {
        Interlocked.Increment(ref accepted);
        while (true)
        {
            var state = Volatile.Read(ref secondState);
            var next = (state >> 32) >= second ? state + 1 : (second << 32) | 1;
            if (Interlocked.CompareExchange(ref secondState, next, state) != state)
            {
                continue;
            }

            var inSecond = next & 0xFFFF_FFFF;
            var max = Interlocked.Read(ref maxPerSecond);
            while (inSecond > max)
            {
                var seen = Interlocked.CompareExchange(ref maxPerSecond, inSecond, max);
                if (seen == max)
                {
                    break;
                }

                max = seen;
            }

            return;
        }
    }

    internal void RecordRateLimited() => Interlocked.Increment(ref rateLimited);

    internal void RecordRejected() => Interlocked.Increment(ref rejected);

    internal void RecordFailed() => Interlocked.Increment(ref failed);
}

/// <summary>Counters of the webhooks (receipts) the sandbox sends back.</summary>
public sealed class WebhookCounters
{
    internal long Posts;
    internal long FailedPosts;
    internal long StatusesDelivered;
    internal long StatusesDropped;
    internal long Pending;

    /// <summary>Webhook POSTs answered 2xx.</summary>
    public long SuccessfulPosts => Interlocked.Read(ref Posts);

    /// <summary>Webhook POSTs that failed (non-2xx or connection error) and were retried or dropped.</summary>
    public long FailedPostCount => Interlocked.Read(ref FailedPosts);

    /// <summary>Statuses acknowledged by the receiver.</summary>
    public long Delivered => Interlocked.Read(ref StatusesDelivered);

    /// <summary>Statuses given up (retry window exceeded or pending bound reached).</summary>
    public long Dropped => Interlocked.Read(ref StatusesDropped);

    /// <summary>Statuses waiting to be delivered.</summary>
    public long PendingCount => Interlocked.Read(ref Pending);
}

/// <summary>What the sandbox counted, per channel and per provider account.</summary>
public sealed class SandboxStats(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, SandboxCounters> channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Channel, string Account), SandboxCounters> accounts = new();

    /// <summary>Receipt webhook counters (WhatsApp status webhooks).</summary>
    public WebhookCounters Webhooks { get; } = new();

    /// <summary>SMS status callback counters (Twilio-style, one status per POST).</summary>
    public WebhookCounters SmsCallbacks { get; } = new();

    /// <summary>Email bounce reports handed to Herald (one report per POST).</summary>
    public WebhookCounters EmailBounces { get; } = new();

    /// <summary>Counters of a channel.</summary>
    public SandboxCounters Channel(string channel) => channels.GetOrAdd(channel, static _ => new SandboxCounters());

    /// <summary>Counters of one provider account of a channel.</summary>
    public SandboxCounters Account(string channel, string account) =>
        accounts.GetOrAdd((channel, account), static _ => new SandboxCounters());

    internal void Accepted(string channel, string account)
    {
        var at = time.GetUtcNow();
        var micros = (long)((Int128)time.GetTimestamp() * 1_000_000 / time.TimestampFrequency);
        Channel(channel).RecordAccepted(at, micros);
        Account(channel, account).RecordAccepted(at, micros);
    }

    internal void RateLimited(string channel, string account)
    {
        Channel(channel).RecordRateLimited();
        Account(channel, account).RecordRateLimited();
    }

    internal void Rejected(string channel, string account)
    {
        Channel(channel).RecordRejected();
        Account(channel, account).RecordRejected();
    }

    internal void Failed(string channel, string account)
    {
        Channel(channel).RecordFailed();
        Account(channel, account).RecordFailed();
    }

    /// <summary>A JSON-friendly snapshot.</summary>
    public object Snapshot()
    {
        var result = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var (name, counters) in channels)
        {
            result[name] = new
            {
                accepted = counters.Accepted,
                rateLimited = counters.RateLimited,
                rejected = counters.Rejected,
                failed = counters.Failed,
                maxPerSecond = counters.MaxPerSecond,
                maxPerSlidingSecond = counters.MaxPerSlidingSecond,
                firstAcceptedAt = counters.FirstAcceptedAt,
                lastAcceptedAt = counters.LastAcceptedAt,
                accounts = accounts
                    .Where(a => a.Key.Channel == name)
                    .ToDictionary(
                        a => a.Key.Account,
                        a => new
                        {
                            accepted = a.Value.Accepted,
                            rateLimited = a.Value.RateLimited,
                            rejected = a.Value.Rejected,
                            failed = a.Value.Failed,
                            maxPerSecond = a.Value.MaxPerSecond,
                            maxPerSlidingSecond = a.Value.MaxPerSlidingSecond,
                            firstAcceptedAt = a.Value.FirstAcceptedAt,
                            lastAcceptedAt = a.Value.LastAcceptedAt,
                        },
                        StringComparer.Ordinal),
            };
        }

        result["webhooks"] = Describe(Webhooks);
        result["smsCallbacks"] = Describe(SmsCallbacks);
        result["emailBounces"] = Describe(EmailBounces);
        return result;
    }

    private static object Describe(WebhookCounters counters) => new
    {
        successfulPosts = counters.SuccessfulPosts,
        failedPosts = counters.FailedPostCount,
        statusesDelivered = counters.Delivered,
        statusesDropped = counters.Dropped,
        statusesPending = counters.PendingCount,
    };

    /// <summary>Zeroes the send counters; webhook counters keep running.</summary>
    public void Reset()
    {
        channels.Clear();
        accounts.Clear();
    }
}
