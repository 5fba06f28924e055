using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Quotas;

/// <summary><c>Herald:Quotas</c>: per-tenant ingest quotas (docs/OPERATIONS.md "Tenant weights and quotas"). The
/// defaults apply to every tenant the operator set no value for; unset means unlimited.</summary>
public sealed class QuotaOptions
{
    public const string Section = "Herald:Quotas";

    /// <summary>Default ingest requests per second per tenant, cluster-wide; null: unlimited.</summary>
    [Range(0.001, 1_000_000)]
    public double? RequestsPerSecond { get; set; }

    /// <summary>Default notifications per second per tenant, cluster-wide (a batch counts each item); null: unlimited.</summary>
    [Range(0.001, 1_000_000)]
    public double? NotificationsPerSecond { get; set; }

    /// <summary>Default backlog ceiling: the most queued (not final) notifications per tenant; null: unlimited.</summary>
    [Range(1, long.MaxValue)]
    public long? Backlog { get; set; }

    /// <summary>How many seconds of a rate may arrive at once (the GCRA burst). A request larger than the burst (a
    /// big batch) is still taken when the tenant is within its rate, and the debt delays the next ones.</summary>
    [Range(0.001, 3600)]
    public double BurstSeconds { get; set; } = 1;

    /// <summary>How long a node keeps a tenant's weight and quotas before reading them again (a change made on
    /// another node applies after at most this long; on the node that made it, at once).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan LimitsRefresh { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How old a node's count of a tenant's backlog may be before it counts again (only for tenants with a
    /// ceiling; the count stops at the ceiling). Notifications the node accepted since are added to the count.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan BacklogRefresh { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a rate check waits for Redis before the node decides alone (its own schedule).</summary>
    [Range(typeof(TimeSpan), "00:00:00.005", "00:00:05")]
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Prefix of the Redis keys holding the per-tenant rate schedules.</summary>
    [Required]
    [MinLength(1)]
    public string KeyPrefix { get; set; } = "herald:quota:";
}
