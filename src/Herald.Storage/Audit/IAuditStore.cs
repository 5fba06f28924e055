namespace Herald.Storage;

/// <summary>Who did something: the API key (its id and the name it is shown by) or <see cref="System"/>, with the
/// request that carried it.</summary>
/// <param name="Name">The actor as shown: <c>key {id} ({prefix})</c> for a tenant key, <see cref="System"/> for the
/// system admin key and for Herald's own acts.</param>
/// <param name="KeyId">The tenant API key's id; null for the system key and Herald itself.</param>
/// <param name="RequestId">The request's id (<c>X-Request-Id</c> when the proxy sent one, else the host's own).</param>
/// <param name="ClientAddress">The client's address as seen through the trusted proxies.</param>
public sealed record AuditActor(string Name, Guid? KeyId, string? RequestId, string? ClientAddress)
{
    /// <summary>The actor name of the system admin key and of Herald's own acts.</summary>
    public const string System = "system";

    /// <summary>Herald itself, outside any request (aggregated refusals, start-up work).</summary>
    public static AuditActor Herald { get; } = new(System, null, null, null);
}

/// <summary>
/// One act to record. <see cref="TenantId"/> null puts it in the system chain (the system key's acts on tenants,
/// aggregated refusals of unknown keys). <see cref="Diff"/> is JSON text with secrets already redacted: the store
/// keeps it byte for byte, which is what the hash covers.
/// </summary>
/// <param name="Action">What happened, <c>{resource}.{verb}</c>: <c>rules.update</c>, <c>webhook.create</c>, <c>provider.isolate</c>.</param>
/// <param name="ResourceType">The kind of thing: <c>rules</c>, <c>webhook</c>, <c>provider</c>, <c>key</c>, <c>tenant</c>.</param>
/// <param name="ResourceId">Which one (an id, a customer id, a version).</param>
public sealed record AuditChange(
    Guid? TenantId, DateTimeOffset At, AuditActor Actor, string Action, string ResourceType, string ResourceId, string? Diff);

/// <summary>A stored entry of a chain. <see cref="Hash"/> is SHA-256 over the canonical encoding of every other field
/// and <see cref="PrevHash"/> (see <see cref="AuditHash"/>); the first entry's previous hash is
/// <see cref="AuditHash.Genesis"/>.</summary>
public sealed record AuditEntry(
    Guid Id,
    Guid? TenantId,
    long Seq,
    DateTimeOffset At,
    string Actor,
    Guid? KeyId,
    string Action,
    string ResourceType,
    string ResourceId,
    string? Diff,
    string? RequestId,
    string? ClientAddress,
    string PrevHash,
    string Hash);

/// <summary>A search of one chain, newest first.</summary>
/// <param name="Actor">Exact actor name (<c>key {id} ({prefix})</c> or <c>system</c>), or a key id.</param>
/// <param name="Resource">A resource type (<c>webhook</c>) or <c>type/id</c> (<c>webhook/0190…</c>).</param>
/// <param name="Action">Exact action (<c>webhook.update</c>) or a prefix ending in <c>.</c> (<c>webhook.</c>).</param>
/// <param name="Before">Keyset cursor: only entries with a lower sequence number.</param>
/// <param name="Limit">Clamped to 1..<see cref="IAuditStore.MaxLimit"/>.</param>
public sealed record AuditQuery(
    DateTimeOffset? From = null, DateTimeOffset? To = null, string? Actor = null, string? Resource = null, string? Action = null,
    long? Before = null, int Limit = 100);

/// <summary>The result of checking a chain: <see cref="Checked"/> entries read in order, and the first entry that is
/// not what the chain says it should be (altered, missing, out of place), or none.</summary>
/// <param name="FirstBrokenSeq">The sequence number where the chain breaks (for a missing tail: the first missing one).</param>
/// <param name="FirstBrokenId">The entry found there; null when it is missing.</param>
public sealed record AuditVerification(bool Ok, long Checked, long? FirstBrokenSeq, Guid? FirstBrokenId, string? Reason)
{
    /// <summary>Entries up to this sequence number were deleted by the audit retention (0: none); the check started
    /// after it, from the hash the chain kept of the last deleted entry.</summary>
    public long PurgedThroughSeq { get; init; }
}

/// <summary>
/// The audit trail (issue #17): one hash chain per tenant plus the system chain. Configuration stores append an
/// entry inside the transaction of the change they make, taking it from <see cref="AuditScope"/>; this contract
/// appends the acts that have no transaction of their own and reads and checks the chains.
/// </summary>
public interface IAuditStore
{
    /// <summary>The most entries one <see cref="QueryAsync"/> returns.</summary>
    const int MaxLimit = 1000;

    /// <summary>Appends <paramref name="change"/> to its chain in a transaction of its own.</summary>
    Task<AuditEntry> AppendAsync(AuditChange change, CancellationToken ct);

    /// <summary>Entries of the tenant's chain (null: the system chain) matching <paramref name="query"/>, newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> QueryAsync(Guid? tenantId, AuditQuery query, CancellationToken ct);

    /// <summary>Walks the chain from its first entry, recomputing every hash and link, and compares the end with the
    /// chain's recorded head (so a removed last entry is found too).</summary>
    Task<AuditVerification> VerifyAsync(Guid? tenantId, CancellationToken ct);

    /// <summary>
    /// The audit trail's retention: in every chain whose oldest entry is older than <paramref name="keep"/> by more
    /// than <paramref name="slack"/> (so a chain is purged about once per slack, not at every round), deletes up to
    /// <paramref name="batch"/> entries from its start that are older than <paramref name="keep"/>, moves the chain's
    /// anchor to the last one deleted and appends an <c>audit.purge</c> entry by the system naming the range, all in
    /// one transaction per chain. Answers the number of entries deleted.
    /// </summary>
    Task<int> PurgeAsync(DateTimeOffset now, TimeSpan keep, TimeSpan slack, int batch, CancellationToken ct);
}

/// <summary>The <c>audit.purge</c> entry the retention appends to a chain it shortened.</summary>
public static class AuditPurge
{
    public const string Action = "audit.purge";

    public static AuditChange Entry(Guid? tenantId, DateTimeOffset at, long fromSeq, long throughSeq, DateTimeOffset before) =>
        new(tenantId, at, AuditActor.Herald, Action, "audit", $"{fromSeq}-{throughSeq}",
            $$$"""{"deleted":{"fromSeq":{{{fromSeq}}},"throughSeq":{{{throughSeq}}},"olderThan":"{{{before.UtcDateTime:O}}}"}}""");
}
