using System.ComponentModel.DataAnnotations;
using Herald.Core.Providers;

namespace Herald.Channels.Providers.RateLimiting;

/// <summary>Provider rate limits (<c>Herald:RateLimits</c>), validated at start. See docs/channels/RATE-LIMITS.md.</summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "Herald:RateLimits";

    /// <summary>When false, <see cref="ProviderAccount.RatePerSecond"/> limits are not enforced by Herald.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Share of the configured rate kept free to absorb the jitter between a permit and the provider's
    /// arrival (scheduling, network, GC): Herald paces at <c>rate × (1 − Headroom)</c>.</summary>
    [Range(0.0, 0.5)]
    public double Headroom { get; set; } = 0.05;

    /// <summary>Longest a high-priority send waits for its slot; normal waits ¾ and low ½ of it. Past that the send
    /// is not made and comes back later (outcome <c>rate_limited</c> with a retry-after).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:05")]
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Longest a critical send may book ahead. It is longer than the lower lanes' bound so a critical send
    /// always gets the next free slot; its real wait is at most the lower lanes' bound plus other critical sends.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan CriticalMaxWait { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Upper bound of the retry-after handed to a send that got no slot.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long one booking call to the shared Redis limiter may take. A slower call is given up (its sends
    /// keep waiting in the node's line; nothing is granted locally while the circuit is closed). Generous, because on a
    /// busy node the answer is late for CPU reasons, not because Redis is gone.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:05")]
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a critical send waits for Redis before it is decided on the node's local schedule instead
    /// (critical sends must not wait long; their local grants are rare enough to come on top).</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:01")]
    public TimeSpan CriticalRedisTimeout { get; set; } = TimeSpan.FromMilliseconds(25);

    /// <summary>The circuit opens (the node limits locally) when no Redis call, heartbeats included, has been answered
    /// for this long: Redis hung or this node cut off from it. A slow Redis that still answers keeps it closed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan RedisDownAfter { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest a non-critical send waits in the node's line for the account before it is turned away with a
    /// retry-after (the line holds what the node can expect to send in this time at its share of the rate).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan MaxQueueWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A node whose heartbeat expired without its leaving may be cut off from Redis and sending on its local
    /// share; the live nodes keep that share free for this long (crashed nodes cost their share as long).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan LostNodeReserve { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>A non-critical send whose slot is already further in the past than this when its wait is over (the
    /// node was starved of CPU, the Redis answer was late) does not go: its slot stays unused and it comes back after
    /// one interval. A late send would stack on top of the on-time sends of the next window.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan MaxLateness { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Consecutive Redis calls that found no connection (refused, closed) that switch the node to local
    /// limiting at once, once Redis has answered the node before (a node still connecting waits
    /// <see cref="RedisDownAfter"/>); slow answers never do.</summary>
    [Range(1, 1000)]
    public int RedisFailuresToOpen { get; set; } = 3;

    /// <summary>How long the node limits locally before it asks Redis again (one probe).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan RedisBreak { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a sending node announces itself in Redis and reads the number of live nodes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A node that has not announced itself for this long no longer counts as live.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan NodeTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Number of sending nodes assumed when Redis never answered (local share = rate / AssumedNodes).</summary>
    [Range(1, 10_000)]
    public int AssumedNodes { get; set; } = 1;

    /// <summary>After Redis comes back, the node also keeps to its local share until every node known before the
    /// outage has announced itself again, or this long at most (so late reconnecting nodes cannot add their
    /// local share on top of the shared rate).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan RecoveryGrace { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Prefix of every Redis key the limiter uses.</summary>
    [Required(AllowEmptyStrings = false)]
    public string KeyPrefix { get; set; } = "herald:ratelimit:";
}
