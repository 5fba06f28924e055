using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Webhooks;

/// <summary>Settings under <c>Herald:Webhooks</c> (docs/CONFIGURATION.md).</summary>
public sealed class WebhookOptions
{
    public const string Section = "Herald:Webhooks";

    /// <summary>Deliveries claimed per round.</summary>
    [Range(1, 10_000)]
    public int ClaimBatch { get; set; } = 200;

    /// <summary>Requests in flight at once per node.</summary>
    [Range(1, 1_000)]
    public int Concurrency { get; set; } = 32;

    /// <summary>How long a bank's endpoint has to answer.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A claimed delivery comes back to the queue after this if its node died. Longer than the slowest round a
    /// node can take (<see cref="SlowestRound"/>: every request of a claimed batch timing out), checked at start.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long one claimed batch takes when every request runs into <see cref="Timeout"/>.</summary>
    public TimeSpan SlowestRound => Timeout * Math.Ceiling(ClaimBatch / (double)Concurrency);

    /// <summary>First retry delay; doubles per try, with jitter, up to <see cref="RetryMaxDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(5);

    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>A delivery not acknowledged this long after its event is dead (redeliverable by hand).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan RetryWindow { get; set; } = TimeSpan.FromDays(3);

    /// <summary>How often an idle dispatcher looks for new events and due retries.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Allow http:// endpoints (development only; banks' endpoints are https).</summary>
    public bool AllowInsecureUrls { get; set; }

    /// <summary>Allow endpoints on loopback addresses (a developer's receiver on the same machine; the embedded demo
    /// sets it and says so at start). Private, link-local and metadata ranges stay refused: an operator who must
    /// allow an internal receiver names it in <c>Herald:Egress:Allow</c>.</summary>
    public bool AllowLoopback { get; set; }

    /// <summary>Replaced by <see cref="AllowLoopback"/> and <c>Herald:Egress:Allow</c>; setting it fails the start, so
    /// a configuration that relied on it is noticed instead of silently narrowed.</summary>
    public bool AllowPrivateAddresses { get; set; }
}
