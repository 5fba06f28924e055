using System.ComponentModel.DataAnnotations;
using Herald.Core.Routing;

namespace Herald.Channels;

/// <summary>Connector and dispatcher settings, bound from <c>Herald:Channels</c> and validated at start.</summary>
public sealed class ChannelsOptions
{
    public const string SectionName = "Herald:Channels";

    /// <summary>Upper bound for one send through a provider's pipeline (Polly timeout). A timeout counts as a
    /// transient failure for the circuit breaker.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>HttpClient timeout: the backstop for connectors used outside the dispatcher. Keep it above
    /// <see cref="SendTimeout"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan HttpTimeout { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a pooled connection lives, so DNS changes of the provider are picked up.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan PooledConnectionLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Connections per provider host. ~10k msgs/s at ~50 ms provider latency needs ~500 in flight.</summary>
    [Range(1, 65535)]
    public int MaxConnectionsPerServer { get; set; } = 1024;

    /// <summary>How often the provider directory reloads enabled accounts from the store.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan ProviderRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a sending node reports its circuits, so that the provider API on any node shows them.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan CircuitReportInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Share of transient outcomes within <see cref="CircuitSamplingDuration"/> that opens a circuit.</summary>
    [Range(0.01, 1.0)]
    public double CircuitFailureRatio { get; set; } = 0.5;

    /// <summary>Sends needed within the sampling window before the ratio is considered.</summary>
    [Range(2, int.MaxValue)]
    public int CircuitMinimumThroughput { get; set; } = 20;

    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00")]
    public TimeSpan CircuitSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Transient failures in a row (no success between them) that open a circuit whatever the ratio says; 0 turns
    /// this off. The ratio alone is diluted by the successes of the sampling window: a provider that dies after a busy
    /// minute kept being tried, one failed send after another, until its old successes aged out.</summary>
    [Range(0, 100_000)]
    public int CircuitConsecutiveFailures { get; set; } = 10;

    /// <summary>How long an open circuit rejects sends before one probe is let through (half-open).</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00")]
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How a provider is chosen when the notification's route names no cost policy (preferred: weighted).</summary>
    public CostPolicy DefaultCostPolicy { get; set; } = CostPolicy.Preferred;
}
