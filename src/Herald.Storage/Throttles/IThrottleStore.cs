namespace Herald.Storage;

/// <summary>
/// Throttle groups (issue #4 item 7, docs/RULES.md "Throttle"): the sends of one tenant and group key (customer, type
/// and optionally a data value), so that at most <c>max</c> notifications of a group are sent in any window of length
/// <c>per</c> (a sliding window). The state lives in the database so that every node agrees; each admission is decided
/// under a per-group lock, so concurrent admissions from any number of nodes never let more than <c>max</c> through.
/// </summary>
public interface IThrottleStore
{
    /// <summary>Admits <paramref name="notificationId"/> to its group when fewer than <paramref name="max"/> sends of the
    /// group were admitted in (<paramref name="now"/> − <paramref name="per"/>, <paramref name="now"/>], recording the send
    /// at <paramref name="now"/>. A notification admitted before is admitted again without counting twice (a retry or a
    /// fallback step of the same notification). A refusal records nothing. Atomic across nodes.</summary>
    /// <returns>True when the notification may be sent.</returns>
    Task<bool> AdmitAsync(Guid tenantId, string key, Guid notificationId, int max, TimeSpan per, DateTimeOffset now, CancellationToken ct);

    /// <summary>How many sends of the group were admitted in (<paramref name="now"/> − <paramref name="per"/>,
    /// <paramref name="now"/>]; records nothing (the dry run).</summary>
    Task<int> CountAsync(Guid tenantId, string key, TimeSpan per, DateTimeOffset now, CancellationToken ct);

    /// <summary>Forgets up to <paramref name="max"/> sends admitted before <paramref name="before"/> (exclusive), oldest
    /// first, and the groups left without sends. Returns how many sends were removed.</summary>
    Task<int> DeleteBeforeAsync(DateTimeOffset before, int max, CancellationToken ct);
}
