using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Hosting;

/// <summary>Settings under <c>Herald</c> (SPEC §6). Every one is listed in docs/CONFIGURATION.md.</summary>
public sealed class HeraldOptions
{
    public const string Section = "Herald";

    /// <summary><c>sqlite</c> (embedded default) or <c>postgres</c>.</summary>
    [RegularExpression("^(sqlite|postgres)$", ErrorMessage = "Herald:Storage must be 'sqlite' or 'postgres'.")]
    public string Storage { get; set; } = "sqlite";

    /// <summary>When set, a bootstrap key with the <c>system</c> role that may create tenants.</summary>
    public string? AdminKey { get; set; }

    /// <summary>Apply pending schema migrations at start (the <c>migrate</c> role always does).</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>How long a verified API key is cached before it is looked up again (bounds revocation delay).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ApiKeyCacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan DefaultDrainDelay = TimeSpan.FromSeconds(5);

    /// <summary>On shutdown, how long a node that a balancer probes keeps serving while <c>/readyz</c> says 503.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan DrainDelay { get; set; } = DefaultDrainDelay;
}

/// <summary>Settings under <c>Herald:Ingest</c>.</summary>
public sealed class IngestOptions
{
    public const string Section = "Herald:Ingest";

    /// <summary>Largest group commit of single POSTs.</summary>
    [Range(1, 10_000)]
    public int MaxCommitBatch { get; set; } = 1_000;

    /// <summary>Group commits in flight at once.</summary>
    [Range(1, 64)]
    public int Committers { get; set; } = 4;

    [Range(1, 10_000)]
    public int MaxBatchItems { get; set; } = 1_000;
}

/// <summary>Settings under <c>Herald:Worker</c>.</summary>
public sealed class WorkerOptions
{
    public const string Section = "Herald:Worker";

    /// <summary>Notifications claimed per round trip.</summary>
    [Range(1, 10_000)]
    public int ClaimBatch { get; set; } = 256;

    /// <summary>Claim loops per worker process; loops overlap sends with database round trips.</summary>
    [Range(1, 64)]
    public int Loops { get; set; } = 4;

    /// <summary>Sends in flight at once per worker process.</summary>
    [Range(1, 100_000)]
    public int MaxConcurrentSends { get; set; } = 512;

    /// <summary>How long a claim is held before another worker may take the notification over.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "01:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest idle wait between queue checks when no wake-up arrives.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan IdleWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Normal and low notifications waiting longer than this move one lane up (never to critical).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan AgingAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long an Idempotency-Key or externalId returns the original notification (SPEC §2: 7 days).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromDays(7);

    [Range(1, 100)]
    public int MaxAttemptsPerStep { get; set; } = 5;

    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>When every remaining channel of a notification has no healthy provider, how often to look again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan OutageRecheck { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How old a notification may grow waiting out provider outages before it fails.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan MaxOutageWait { get; set; } = TimeSpan.FromHours(24);
}
