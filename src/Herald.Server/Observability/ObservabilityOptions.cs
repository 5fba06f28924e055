using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Observability;

/// <summary>Metrics settings (<c>Herald:Observability</c>); docs/OBSERVABILITY.md describes every series.</summary>
public sealed class ObservabilityOptions
{
    public const string Section = "Herald:Observability";

    /// <summary>Adds a <c>tenant</c> label (the tenant id) to the accept → first send and accept → delivered
    /// histograms. Off by default: it multiplies those series by the number of tenants, which a Prometheus sized for
    /// Herald's own cardinality may not expect.</summary>
    public bool TenantLabel { get; set; }

    /// <summary>How often a delivering node samples the queue's depth and oldest due entry per lane.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan QueueSampleInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The most entries counted per lane in one sample: the depth gauge reads at most this, so a sample
    /// costs the same on a queue of a million as on one of this size (issue #18).</summary>
    [Range(1, 10_000_000)]
    public long QueueDepthCap { get; set; } = 100_000;
}
