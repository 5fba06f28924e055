using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Retention;

/// <summary>The purge of old delivery records (<c>Herald:Retention</c>, docs/OPERATIONS.md "Retention").</summary>
public sealed class RetentionOptions
{
    public const string Section = "Herald:Retention";

    /// <summary>Runs the purge on delivering nodes; off keeps everything (a bank may purge by its own means).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often a delivering node looks for records past their tenant's retention.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Notifications (and as many webhook deliveries) deleted per transaction: small, so each one holds its
    /// locks and writes its WAL for milliseconds, never long enough to stall delivery.</summary>
    [Range(10, 10_000)]
    public int BatchSize { get; set; } = 1000;

    /// <summary>How long the audit trail keeps its entries (every chain, the system's included): longer than the
    /// delivery records, as auditors look back further. Entries are deleted from the start of each chain about once a
    /// day; the chain keeps the hash of the last one deleted, so it still verifies (docs/OPERATIONS.md "Audit trail").</summary>
    [Range(30, 36_500)]
    public int AuditDays { get; set; } = 400;

    /// <summary>A pause between batches, leaving the database to delivery between them.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan BatchPause { get; set; } = TimeSpan.FromMilliseconds(50);
}
