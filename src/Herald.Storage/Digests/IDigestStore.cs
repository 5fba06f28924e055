namespace Herald.Storage;

/// <summary>
/// Digest windows (issue #4 item 7): notifications of one tenant and digest key (customer, type and optionally a data
/// value) that arrive while a window is open are collapsed into one message when it closes. The state lives in the
/// database so that every node agrees on the window and its members.
/// </summary>
public interface IDigestStore
{
    /// <summary>Adds <paramref name="notificationId"/> to the open window of <paramref name="key"/>, opening one that
    /// closes at <paramref name="now"/> + <paramref name="window"/> when none is open. Atomic across nodes.</summary>
    /// <returns>When the joined window closes (the time its one message is due).</returns>
    Task<DateTimeOffset> JoinAsync(Guid tenantId, string key, Guid notificationId, DateTimeOffset now, TimeSpan window, CancellationToken ct);

    /// <summary>The members of the window of <paramref name="key"/> closing at <paramref name="closesAt"/> whose
    /// notification was stored (a join whose notification never committed is left out), oldest first.</summary>
    Task<IReadOnlyList<Guid>> MembersAsync(Guid tenantId, string key, DateTimeOffset closesAt, CancellationToken ct);

    /// <summary>Housekeeping: deletes the member rows of windows that closed before <paramref name="closedBefore"/> and
    /// were sent (no member's notification is still pending; joins whose notification was never stored count as
    /// done), at most <paramref name="max"/> of them, then the window rows left without members that closed before
    /// then. A window with a pending member keeps every row, so a late worker still collapses it.</summary>
    /// <returns>How many member rows were deleted; fewer than <paramref name="max"/> means none is left to delete.</returns>
    Task<int> DeleteSentAsync(DateTimeOffset closedBefore, int max, CancellationToken ct);
}
