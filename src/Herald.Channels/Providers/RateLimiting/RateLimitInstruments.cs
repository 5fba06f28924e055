using System.Diagnostics.Metrics;

namespace Herald.Channels.Providers.RateLimiting;

/// <summary>Why a send was turned away by the limiter (the <c>reason</c> of <c>herald.ratelimit.denials</c>).</summary>
public enum DenialReason
{
    /// <summary>The account's schedule is booked beyond the send's lane horizon.</summary>
    Schedule,
    /// <summary>The node's line for the account is full (more waiters than it can expect to send within MaxQueueWait).</summary>
    LineFull,
    /// <summary>The send waited MaxQueueWait in the node's line without getting a slot.</summary>
    WaitedTooLong,
    /// <summary>Redis did not answer while the limiter's circuit was still closed.</summary>
    RedisUnanswered,
    /// <summary>The slot was already further in the past than MaxLateness when the send could go.</summary>
    Late,
    /// <summary>The node's local share (recovering, partitioned) had no slot.</summary>
    LocalShare,
}

/// <summary>
/// The limiter's diagnostics on Herald's meter (exported on <c>/metrics</c> with the host's other instruments): Redis
/// call latencies by outcome, denials by reason, circuit transitions. They explain a shortfall against the rate
/// (docs/channels/RATE-LIMITS.md); the permit counters themselves go through <see cref="IRateLimitMetrics"/>.
/// </summary>
public sealed class RateLimitInstruments : IDisposable
{
    /// <summary>Herald's meter name (Herald.Server exports it).</summary>
    public const string MeterName = "Herald";

    private static readonly double[] LatencyBuckets = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];

    private readonly Meter _meter = new(MeterName);
    private readonly Histogram<double> _redisLatency;
    private readonly Counter<long> _denials;
    private readonly Counter<long> _circuit;

    public RateLimitInstruments()
    {
        _redisLatency = _meter.CreateHistogram<double>("herald.ratelimit.redis_ms", unit: null,
            description: "Duration of the limiter's Redis calls in milliseconds, by call (book, heartbeat) and outcome (answered, timeout, error, disconnected).",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _denials = _meter.CreateCounter<long>("herald.ratelimit.denials", description: "Sends the limiter turned away, by reason.");
        _circuit = _meter.CreateCounter<long>("herald.ratelimit.circuit", description: "Transitions of the limiter's Redis circuit (open: limiting locally, closed).");
    }

    public void RedisCall(string call, string outcome, double milliseconds) =>
        _redisLatency.Record(milliseconds, new("call", call), new("outcome", outcome));

    public void Denied(DenialReason reason) => _denials.Add(1, new KeyValuePair<string, object?>("reason", Snake(reason)));

    public void Circuit(bool open) => _circuit.Add(1, new KeyValuePair<string, object?>("state", open ? "open" : "closed"));

    public void Dispose() => _meter.Dispose();

    private static string Snake(DenialReason reason) => reason switch
    {
        DenialReason.Schedule => "schedule",
        DenialReason.LineFull => "line_full",
        DenialReason.WaitedTooLong => "waited_too_long",
        DenialReason.RedisUnanswered => "redis_unanswered",
        DenialReason.Late => "late",
        _ => "local_share",
    };
}
