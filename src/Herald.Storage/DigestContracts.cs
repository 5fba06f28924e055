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
}
