using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Reports;

/// <summary>The overview's counts (<c>Herald:Reports</c>, docs/CONSOLE.md "Overview").</summary>
public sealed class ReportsOptions
{
    public const string Section = "Herald:Reports";

    /// <summary>Counts notifications per 15-minute bucket on delivering nodes, for the overview's 24 h and 7 d ranges.
    /// Off, those ranges count the notifications themselves (slow at millions of rows).</summary>
    public bool Counting { get; set; } = true;

    /// <summary>How often a delivering node counts the buckets that settled (and recounts a few that were still open).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan CountInterval { get; set; } = TimeSpan.FromMinutes(1);
}
