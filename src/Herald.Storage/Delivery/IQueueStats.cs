using Herald.Core.Notifications;

namespace Herald.Storage;

/// <summary>One lane of the queue as a metrics sample sees it.</summary>
/// <param name="Lane">The lane (<see cref="Priority"/>).</param>
/// <param name="Depth">Entries in the lane, counted no further than the cap the sample was asked with.</param>
/// <param name="OldestDue">The earliest due time in the lane; null when the lane is empty.</param>
public sealed record QueueLaneSample(Priority Lane, long Depth, DateTimeOffset? OldestDue);

/// <summary>
/// Cheap queue figures for metrics (issue #18): bounded counts and a loose index scan, never a count of the whole
/// queue, so a periodic sample costs the same on a queue of a million entries as on one of the cap's size.
/// </summary>
public interface IQueueStats
{
    /// <summary>One sample per lane, critical first. Each lane's depth stops at <paramref name="depthCap"/>.</summary>
    Task<IReadOnlyList<QueueLaneSample>> SampleAsync(long depthCap, CancellationToken ct);
}
