using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;

namespace Herald.Storage;

// The store contracts. PostgreSQL (production) and SQLite (embedded) implement every one of them and pass the
// same compliance suite (tests/Herald.Storage.Tests/Compliance). All times come from the caller's TimeProvider
// unless a member says otherwise, so tests can drive the clock.
//
// Rules every backend keeps (the suite checks each one):
// - Times are stored in UTC truncated to the whole millisecond. Every time passed in (timestamps, "now", query
//   bounds) is truncated the same way, and a time read back equals the written time so truncated; records a
//   create method returns carry the stored (truncated) times.
// - JSON payloads (NewNotification.DataJson, ProviderAccount.Settings) come back as equivalent JSON, not
//   necessarily the same text: whitespace and key order may change.
// - Referential checks are the caller's job on the hot paths: a notification's tenant is not checked (see
//   INotificationStore.AcceptAsync). API keys and provider accounts, off the hot path, are checked against their
//   tenant by both backends (foreign keys).

public sealed record Tenant(Guid Id, string Name, DateTimeOffset CreatedAt);

/// <summary>Roles an API key may hold (SPEC §3). <c>system</c> is the bootstrap admin key only.</summary>
public static class Roles
{
    public const string Send = "send";
    public const string Read = "read";
    public const string Admin = "admin";
    public const string System = "system";
    public static readonly IReadOnlySet<string> TenantRoles = new HashSet<string>(StringComparer.Ordinal) { Send, Read, Admin };
}

/// <param name="KeyHash">SHA-256 of the key; the key itself is never stored.</param>
/// <param name="Prefix">The first characters of the key, shown in listings so people can tell keys apart.</param>
public sealed record ApiKey(Guid Id, Guid TenantId, Guid? SourceId, IReadOnlyList<string> Roles, byte[] KeyHash, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

public interface ITenantStore
{
    Task<Tenant> CreateTenantAsync(string name, CancellationToken ct);
    Task<Tenant?> GetTenantAsync(Guid tenantId, CancellationToken ct);
    Task<IReadOnlyList<Tenant>> ListTenantsAsync(CancellationToken ct);
    Task<ApiKey> CreateApiKeyAsync(Guid tenantId, Guid? sourceId, IReadOnlyList<string> roles, byte[] keyHash, string prefix, CancellationToken ct);
    /// <summary>The key with this hash, unless revoked.</summary>
    Task<ApiKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct);
    /// <summary>The operator's weight and quotas of the tenant; null when there is no such tenant.</summary>
    Task<TenantLimits?> GetLimitsAsync(Guid tenantId, CancellationToken ct);
    /// <summary>Replaces the tenant's weight and quotas; false when there is no such tenant.</summary>
    Task<bool> SetLimitsAsync(Guid tenantId, TenantLimits limits, CancellationToken ct);
}

/// <summary>
/// What the operator sets per tenant (docs/OPERATIONS.md "Tenant weights and quotas"): its weight against the other
/// tenants of a lane when the delivery workers claim work, and its ingest quotas. A null quota means the configured
/// default (Herald:Quotas), which is unlimited unless configured.
/// </summary>
/// <param name="Weight">Relative share of each claim batch in a lane among the tenants with due work there.</param>
/// <param name="RequestsPerSecond">Ingest requests per second, cluster-wide (each request counts once).</param>
/// <param name="NotificationsPerSecond">Notifications per second, cluster-wide (a batch counts each item).</param>
/// <param name="BacklogLimit">The most queued (not yet final) notifications before ingest answers 429.</param>
public sealed record TenantLimits(int Weight, double? RequestsPerSecond, double? NotificationsPerSecond, long? BacklogLimit)
{
    /// <summary>The weight of a tenant nobody set one for; both backends' claim SQL use it for unknown tenants.</summary>
    public const int DefaultWeight = 100;
    public const int MinWeight = 1;
    public const int MaxWeight = 10_000;

    public static TenantLimits Default { get; } = new(DefaultWeight, null, null, null);
}

/// <summary>How <see cref="IProviderStore.DeleteAsync"/> ended.</summary>
public enum ProviderDeleteResult
{
    NotFound,
    Deleted,
}

/// <summary>Which dimensions a cost report groups by (any combination; none = one total per currency).</summary>
[Flags]
public enum CostGrouping
{
    None = 0,
    Channel = 1,
    Provider = 2,
    Day = 4,
}

/// <param name="From">Inclusive: attempts created at or after this time.</param>
/// <param name="To">Exclusive: attempts created before this time.</param>
public sealed record CostQuery(Guid TenantId, DateTimeOffset From, DateTimeOffset To, CostGrouping GroupBy);

/// <summary>One row of a cost report: attempts that reached a provider account, and the sum of their costs (an
/// attempt without a cost counts 0), in the account's currency. Members not grouped by are null.</summary>
/// <param name="Day">The UTC day the attempts were created on.</param>
/// <param name="Currency">The provider account's currency; null for accounts without a price table.</param>
public sealed record CostTotal(Channel? Channel, Guid? ProviderId, string? ProviderName, DateOnly? Day, string? Currency, long Attempts, decimal Cost);

/// <summary>
/// Provider accounts. Settings are encrypted at rest (whole JSON, <c>ISecretProtector</c> with context
/// <c>provider:{id}</c>) and decrypted on read; rows written before encryption read as they are and are encrypted by
/// their next write. Deleted accounts are kept (attempts and cost reports reference them) but no longer listed.
/// </summary>
public interface IProviderStore : IProviderAccountSource
{
    Task<ProviderAccount> CreateAsync(ProviderAccount account, CancellationToken ct);

    /// <summary>Creates every account in one transaction: a reader (another node's routing table) sees all or none.</summary>
    Task<IReadOnlyList<ProviderAccount>> CreateManyAsync(IReadOnlyList<ProviderAccount> accounts, CancellationToken ct);

    /// <summary>The tenant's accounts, oldest first.</summary>
    Task<IReadOnlyList<ProviderAccount>> ListAsync(Guid tenantId, CancellationToken ct);
    /// <summary>One of the tenant's accounts; null when it does not exist, was deleted or is another tenant's.</summary>
    Task<ProviderAccount?> GetAsync(Guid tenantId, Guid id, CancellationToken ct);

    /// <summary>Replaces name, settings, weight, enabled, rate, prices and the isolated flag of the account with
    /// <paramref name="account"/>'s id and tenant (channel, kind and creation time never change). Returns the stored
    /// account, or null when there is none for that tenant.</summary>
    Task<ProviderAccount?> UpdateAsync(ProviderAccount account, CancellationToken ct);

    /// <summary>Deletes the tenant's account: it disappears from every listing and from routing; its row stays for
    /// the attempts and cost reports that reference it.</summary>
    Task<ProviderDeleteResult> DeleteAsync(Guid tenantId, Guid id, CancellationToken ct);

    /// <summary>Counts and cost sums of the tenant's attempts that reached a provider account, grouped as asked
    /// and always by currency; ordered by day, channel, provider id, currency (nulls first).</summary>
    Task<IReadOnlyList<CostTotal>> GetCostsAsync(CostQuery query, CancellationToken ct);
}

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
public sealed record NotificationQuery(
    NotificationStatus? Status = null,
    string? Type = null,
    string? ExternalId = null,
    string? CustomerId = null,
    DateTimeOffset? CreatedFrom = null,
    DateTimeOffset? CreatedTo = null,
    Guid? Before = null,
    int Limit = 50);

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

    /// <summary>Ends the idempotency window of up to <paramref name="max"/> notifications created before
    /// <paramref name="createdBefore"/>: their dedupe keys are released, so a later submission with the same key is a new
    /// notification. The notifications themselves (and their externalId) stay. Returns how many were released.</summary>
    Task<int> ReleaseDedupeKeysAsync(DateTimeOffset createdBefore, int max, CancellationToken ct);
}

/// <summary>A notification a worker holds a lease on.</summary>
/// <param name="InFlightAttempts">Attempts left in state sending by a worker that lost its lease (crashed): their
/// sends may have reached the provider, so a resend can duplicate. Counted, then failed, then resent.</param>
public sealed record ClaimedNotification(Notification Notification, IReadOnlyList<Attempt> InFlightAttempts);

/// <summary>A provider's receipt for one message, as Herald keeps it while it waits for its attempt (the provider
/// answered before the worker stored the id).</summary>
/// <param name="ProviderId">The provider account that vouched for the receipt (whose signature, token or bind it came
/// through). A receipt is only ever applied to an attempt of that account: provider message ids are the provider's,
/// not unique across accounts, so (account, message id) is the key on every path.</param>
public sealed record PendingReceipt(Guid ProviderId, string ProviderMessageId, ReceiptState State, string? ErrorCode, string? Error, DateTimeOffset ReceivedAt);

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

/// <summary>Applies the schema migrations this build knows, in order, once each.</summary>
public interface IStorageMigrator
{
    Task MigrateAsync(CancellationToken ct);
    /// <summary>Migrations this build knows that the database has not applied.</summary>
    Task<IReadOnlyList<string>> PendingAsync(CancellationToken ct);
}

/// <summary>Whether the store answers, for /readyz.</summary>
public interface IStorageHealth
{
    Task<bool> IsReadyAsync(CancellationToken ct);
}
