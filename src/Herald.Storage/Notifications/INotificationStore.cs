using Herald.Core.Notifications;

namespace Herald.Storage;

/// <param name="Created">False when the dedupe key matched an earlier notification; <paramref name="Id"/> is then that one's.</param>
public sealed record AcceptResult(Guid Id, bool Created, NotificationStatus Status)
{
    /// <summary>The dedupe key is held by an earlier notification (<see cref="Id"/>) whose request had another fingerprint:
    /// the key was reused for a different request, which is refused (422), not answered with the original.</summary>
    public bool Mismatch { get; init; }

    /// <summary>Whether a repeat's fingerprint differs from the stored one (both known; an unknown one never differs).</summary>
    public static bool Differs(byte[]? stored, byte[]? repeat) =>
        stored is not null && repeat is not null && !stored.AsSpan().SequenceEqual(repeat);
}

/// <param name="CreatedFrom">Inclusive: notifications created at or after this time.</param>
/// <param name="CreatedTo">Exclusive: notifications created before this time.</param>
/// <param name="Before">Keyset cursor: only notifications with an id below this one (ids are time-ordered UUIDv7).</param>
/// <param name="Limit">Page size, clamped to 1..500.</param>
/// <param name="Channel">The channel that delivered (set once delivered).</param>
public sealed record NotificationQuery(
    NotificationStatus? Status = null,
    string? Type = null,
    string? ExternalId = null,
    string? CustomerId = null,
    DateTimeOffset? CreatedFrom = null,
    DateTimeOffset? CreatedTo = null,
    Guid? Before = null,
    int Limit = 50,
    Channel? Channel = null,
    Priority? Priority = null,
    Guid? SourceId = null);

/// <summary>How many notifications of one priority created in one bucket are (so far) <paramref name="Status"/> on
/// <paramref name="Channel"/> (null: not delivered on any channel yet, or never).</summary>
/// <param name="Bucket">The bucket's start (UTC, a multiple of the bucket width since the Unix epoch).</param>
public sealed record NotificationCount(DateTimeOffset Bucket, Channel? Channel, NotificationStatus Status, Priority Priority, long Count)
{
    /// <summary>Of the count, those whose route moved past its first step (the first channel failed, timed out or was
    /// skipped): fallbacks.</summary>
    public long Fallbacks { get; init; }
}

public interface INotificationStore
{
    /// <summary>
    /// Stores the notifications and their queue entries in one transaction (SPEC §2: 202 means durable).
    /// An item whose dedupe key exists for the tenant is not stored again: its result names the original.
    /// Results are in input order. Dedupe keys repeated within one call resolve to the first such item.
    /// If any item fails (e.g. an id that exists), the call throws and stores nothing.
    /// The tenant is not checked: a notification for an unknown tenant is stored (the API only ever names existing
    /// tenants, and a per-row foreign key check costs PostgreSQL lock traffic on the ingest path).
    /// </summary>
    Task<IReadOnlyList<AcceptResult>> AcceptAsync(IReadOnlyList<PreparedNotification> items, DateTimeOffset now, CancellationToken ct);
    Task<Notification?> GetAsync(Guid tenantId, Guid id, CancellationToken ct);
    /// <summary>Attempts of one notification, oldest first.</summary>
    Task<IReadOnlyList<Attempt>> GetAttemptsAsync(Guid tenantId, Guid notificationId, CancellationToken ct);
    /// <summary>Newest (highest id) first; every filter given must match; see <see cref="NotificationQuery"/> for bounds.</summary>
    Task<IReadOnlyList<Notification>> SearchAsync(Guid tenantId, NotificationQuery query, CancellationToken ct);

    /// <summary>The tenant's notifications created in [<paramref name="from"/>, <paramref name="to"/>) counted per
    /// <paramref name="bucket"/>, delivering channel, status and priority (the console's overview). Reads the id range of the
    /// time range (<see cref="TimeOrderedIds"/>) through the (tenant_id, id) index.</summary>
    Task<IReadOnlyList<NotificationCount>> CountAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct);

    /// <summary>Ends the idempotency window of up to <paramref name="max"/> notifications created before
    /// <paramref name="createdBefore"/>: their dedupe keys are released, so a later submission with the same key is a new
    /// notification. The notifications themselves (and their externalId) stay. Returns how many were released.</summary>
    Task<int> ReleaseDedupeKeysAsync(DateTimeOffset createdBefore, int max, CancellationToken ct);
}
