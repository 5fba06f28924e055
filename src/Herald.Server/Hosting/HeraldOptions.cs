using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Hosting;

/// <summary>Settings under <c>Herald</c> (SPEC §6). Every one is listed in docs/CONFIGURATION.md.</summary>
public sealed class HeraldOptions : IValidatableObject
{
    public const string Section = "Herald";

    /// <summary><c>sqlite</c> (embedded default) or <c>postgres</c>.</summary>
    [RegularExpression("^(sqlite|postgres)$", ErrorMessage = "Herald:Storage must be 'sqlite' or 'postgres'.")]
    public string Storage { get; set; } = "sqlite";

    /// <summary>When set, a bootstrap key with the <c>system</c> role that may create tenants. Must be strong
    /// (<see cref="WeakAdminKey"/>): it opens every tenant.</summary>
    public string? AdminKey { get; set; }

    /// <summary>The shortest admin key Herald starts with: 32 characters, as <c>openssl rand -base64 32</c> gives 44.</summary>
    public const int MinAdminKeyLength = 32;

    /// <summary>The fewest different characters an admin key must hold (a hex secret of 32 characters holds about 15).</summary>
    public const int MinAdminKeyDistinct = 12;

    /// <summary>Why <paramref name="key"/> is too weak to be the admin key, or null when it is strong enough: shorter
    /// than <see cref="MinAdminKeyLength"/>, fewer than <see cref="MinAdminKeyDistinct"/> different characters, or a
    /// placeholder copied from an example.</summary>
    public static string? WeakAdminKey(string key)
    {
        const string how = "use a random secret of at least 32 characters, e.g. `openssl rand -base64 32`";
        if (key.Length < MinAdminKeyLength)
        {
            return $"Herald:AdminKey is too weak: it has {key.Length} characters; {how}.";
        }

        if (key.Distinct().Count() < MinAdminKeyDistinct)
        {
            return $"Herald:AdminKey is too weak: it repeats a few characters; {how}.";
        }

        string[] placeholders = ["change-me", "changeme", "change_me", "example", "password", "0123456789", "abcdefghij"];
        return placeholders.FirstOrDefault(p => key.Contains(p, StringComparison.OrdinalIgnoreCase)) is { } placeholder
            ? $"Herald:AdminKey is too weak: it contains '{placeholder}', as an example or placeholder does; {how}."
            : null;
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (AdminKey is { Length: > 0 } key && WeakAdminKey(key) is { } weak)
        {
            yield return new ValidationResult(weak, [nameof(AdminKey)]);
        }
    }

    /// <summary>Apply pending schema migrations at start (the <c>migrate</c> role always does).</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>How long a verified API key is cached before it is looked up again (bounds revocation delay).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ApiKeyCacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most API keys a node remembers, known and unknown ones each (a flood of made-up keys stops here).</summary>
    [Range(1, 10_000_000)]
    public int ApiKeyCacheEntries { get; set; } = 10_000;

    /// <summary>How often a node writes when its API keys were last used (one batched write; lastUsedAt lags by up to this).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan ApiKeyUsageFlushInterval { get; set; } = TimeSpan.FromMinutes(1);

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

    /// <summary>Claimed critical batches the critical loop processes at once, so one batch's commits do not hold the next
    /// critical back.</summary>
    [Range(1, 64)]
    public int CriticalBatchesInFlight { get; set; } = 4;

    /// <summary>Claim loops that go on claiming lower lanes while criticals flow; the others pause until
    /// <see cref="CriticalCalm"/> after the last critical, so a critical does not queue for a saturated machine.</summary>
    [Range(0, 64)]
    public int LoopsWhileCritical { get; set; } = 1;

    /// <summary>How long after the last critical the paused loops resume.</summary>
    public TimeSpan CriticalCalm { get; set; } = TimeSpan.FromSeconds(1);

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
