using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Throttling;

/// <summary><c>Herald:Throttling</c>: upkeep of the throttle state.</summary>
public sealed class ThrottlingOptions
{
    public const string Section = "Herald:Throttling";

    /// <summary>How often a node forgets sends older than the longest throttle period (1d) and the groups left without
    /// any; every node does it (no leader), the deletes skip rows another node holds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(1);
}
