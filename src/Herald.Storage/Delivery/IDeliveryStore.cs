using Herald.Core.Delivery;
using Herald.Core.Notifications;

namespace Herald.Storage;

/// <summary>A notification a worker holds a lease on.</summary>
/// <param name="InFlightAttempts">Attempts left in state sending by a worker that lost its lease (crashed): their
/// sends may have reached the provider, so a resend can duplicate. Counted, then failed, then resent.</param>
public sealed record ClaimedNotification(Notification Notification, IReadOnlyList<Attempt> InFlightAttempts);

/// <summary>A provider's receipt for one message, as Herald keeps it while it waits for its attempt (the provider
/// answered before the worker stored the id).</summary>
/// <param name="ProviderId">The provider account that vouched for the receipt (whose signature, token or bind it came
/// through). A receipt is only ever applied to an attempt of that account: provider message ids are the provider's,
/// not unique across accounts, so (account, message id) is the key on every path.</param>
public sealed record PendingReceipt(Guid ProviderId, string ProviderMessageId, ReceiptState State, string? ErrorCode, string? Error, DateTimeOffset ReceivedAt)
{
    /// <summary>The receipt's error text without the contacts vendors echo (<see cref="ErrorText"/>): parked receipts are
    /// stored in plaintext.</summary>
    public string? Error { get; init => field = ErrorText.Scrub(value); } = ErrorText.Scrub(Error);
}

/// <param name="Applied">Per update, in input order: whether its version matched and it was stored.</param>
/// <param name="Receipts">Pending receipts for the (provider account, provider message id) pairs that these updates
/// stored; now removed from the pending set, for the caller to process.</param>
public sealed record ApplyResult(IReadOnlyList<bool> Applied, IReadOnlyList<PendingReceipt> Receipts);

/// <summary>
/// The durable priority queue and delivery state. Strict priority: a due entry of a higher lane is always
/// claimed before any entry of a lower lane. Within a lane, a claim is fair across tenants: each tenant with due
/// entries in the lane gets a share of the batch in proportion to its <see cref="TenantLimits.Weight"/> (at least
/// one entry), its oldest due entries first, and a share a tenant cannot fill goes to the others, so one tenant's
/// backlog never holds another tenant's due entry back for more than a batch. Claims are leases: an entry claimed
/// and not updated within the lease becomes due again, so another worker takes over a crashed worker's work.
/// </summary>
public interface IDeliveryStore
{
    /// <summary>Claims up to <paramref name="max"/> due entries, highest lane first; within a lane, a weighted share
    /// per tenant, each tenant's oldest due first, interleaved by weighted position (a tenant's k-th entry ranks at
    /// k / weight).</summary>
    Task<IReadOnlyList<ClaimedNotification>> ClaimAsync(int max, TimeSpan lease, DateTimeOffset now, CancellationToken ct) =>
        ClaimAsync(max, lease, now, Priority.Low, ct);

    /// <summary>Like <see cref="ClaimAsync(int, TimeSpan, DateTimeOffset, CancellationToken)"/>, but only from lanes up
    /// to <paramref name="lowestLane"/>: a worker loop reserved for critical work claims with <see cref="Priority.Critical"/>.</summary>
    Task<IReadOnlyList<ClaimedNotification>> ClaimAsync(int max, TimeSpan lease, DateTimeOffset now, Priority lowestLane, CancellationToken ct);

    /// <summary>Completes once work may be due (a wake-up from another node or process), or after <paramref name="maxWait"/>.</summary>
    Task WaitForWorkAsync(TimeSpan maxWait, CancellationToken ct);

    /// <summary>Returns the time the earliest entry becomes due, or null when the queue is empty.</summary>
    Task<DateTimeOffset?> NextDueAsync(CancellationToken ct);

    /// <summary>Stores attempts in state sending before their sends go out, so a crash leaves a trace. An attempt
    /// whose id is stored already is left as it is. If any attempt names a notification that does not exist, throws
    /// <see cref="InvalidOperationException"/> and stores none of them.</summary>
    Task BeginAttemptsAsync(IReadOnlyList<Attempt> attempts, CancellationToken ct);

    /// <summary>Applies state changes, attempt writes and queue moves, all in one transaction.</summary>
    Task<ApplyResult> ApplyAsync(IReadOnlyList<DeliveryUpdate> updates, DateTimeOffset now, CancellationToken ct);

    /// <summary>The attempt of provider account <paramref name="providerId"/> that a provider message id belongs to,
    /// with its notification; another account's attempt with the same message id is never returned.</summary>
    Task<(Notification Notification, Attempt Attempt)?> FindByProviderMessageIdAsync(Guid providerId, string providerMessageId, CancellationToken ct);

    /// <summary>Many <see cref="FindByProviderMessageIdAsync"/> lookups of one account in one round trip (a webhook's
    /// receipts): per provider message id that names an attempt of that account, that attempt (the newest, as above)
    /// with its notification.</summary>
    Task<IReadOnlyDictionary<string, (Notification Notification, Attempt Attempt)>> FindByProviderMessageIdsAsync(
        Guid providerId, IReadOnlyCollection<string> providerMessageIds, CancellationToken ct);

    /// <summary>Keeps a receipt whose attempt is not stored yet (the provider answered faster than we wrote), keyed by
    /// (<see cref="PendingReceipt.ProviderId"/>, message id): it is handed back only by the write of an attempt of
    /// that same account. A receipt for a key already pending replaces it unless it would step back in the order
    /// sent &lt; failed &lt; delivered &lt; read (providers do not promise to report in order); equal replaces.</summary>
    Task SavePendingReceiptAsync(PendingReceipt receipt, CancellationToken ct);

    /// <summary>Removes and returns up to <paramref name="max"/> pending receipts received before
    /// <paramref name="olderThan"/> (exclusive), oldest first, for a sweeper to retry.</summary>
    Task<IReadOnlyList<PendingReceipt>> TakePendingReceiptsAsync(DateTimeOffset olderThan, int max, CancellationToken ct);

    /// <summary>Aging: moves entries of the normal and low lanes queued longer than <paramref name="age"/> one lane
    /// up, never into the critical lane. Returns how many moved.</summary>
    Task<int> PromoteAgedAsync(TimeSpan age, int max, DateTimeOffset now, CancellationToken ct) =>
        PromoteAgedAsync(age, max, AgedPerTenant, now, ct);

    /// <summary>Aging, fair across tenants: a tenant's entries move up only while it has fewer than
    /// <paramref name="perTenant"/> entries in the lane above, so one tenant's aged backlog takes at most that many
    /// places ahead of the other tenants' work there (strict priority would otherwise put all of it first).</summary>
    Task<int> PromoteAgedAsync(TimeSpan age, int max, int perTenant, DateTimeOffset now, CancellationToken ct);

    /// <summary>The most entries aging keeps of one tenant in the lane above at a time.</summary>
    const int AgedPerTenant = 500;

    /// <summary>Counts of queued entries per lane (index = <see cref="Priority"/>), for metrics.</summary>
    Task<long[]> QueueDepthAsync(CancellationToken ct);

    /// <summary>How many queued (not final) notifications the tenant has, counting no further than
    /// <paramref name="atMost"/>: the cost is bounded by that, not by the tenant's backlog.</summary>
    Task<long> CountQueuedAsync(Guid tenantId, long atMost, CancellationToken ct);
}
