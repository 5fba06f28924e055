namespace Herald.Storage;

public sealed record Tenant(Guid Id, string Name, DateTimeOffset CreatedAt);

/// <summary>Roles an API key may hold (SPEC §3; the table in docs/SPEC.md "Roles"). <c>system</c> is the bootstrap
/// admin key only.</summary>
public static class Roles
{
    public const string Send = "send";
    public const string Read = "read";
    public const string Admin = "admin";

    /// <summary>The console's read-only role: every GET family, with customers' contacts and secrets redacted; never
    /// sends nor changes anything.</summary>
    public const string Viewer = "viewer";

    public const string System = "system";
    public static readonly IReadOnlySet<string> TenantRoles = new HashSet<string>(StringComparer.Ordinal) { Send, Read, Admin, Viewer };
}

/// <param name="KeyHash">SHA-256 of the key; the key itself is never stored.</param>
/// <param name="Prefix">The first characters of the key, shown in listings so people can tell keys apart.</param>
public sealed record ApiKey(Guid Id, Guid TenantId, Guid? SourceId, IReadOnlyList<string> Roles, byte[] KeyHash, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    /// <summary>Who or what holds the key (a person, a system), at most <see cref="MaxNameLength"/> characters.</summary>
    public string Name { get; init; } = "";

    /// <summary>After this instant the key is refused; null: it does not expire.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>When the key was last used, approximately: nodes flush their uses in batches about once a minute
    /// (<see cref="ITenantStore.TouchApiKeysAsync"/>), so it lags by up to that much.</summary>
    public DateTimeOffset? LastUsedAt { get; init; }

    public const int MaxNameLength = 100;

    /// <summary>Whether the key is refused at <paramref name="now"/> for its expiry (revocation is the store's).</summary>
    public bool ExpiredAt(DateTimeOffset now) => ExpiresAt is { } expires && expires <= now;
}

/// <summary>A key to store: everything but what the store assigns (id, creation time).</summary>
public sealed record NewApiKey(Guid TenantId, string Name, IReadOnlyList<string> Roles, Guid? SourceId, DateTimeOffset? ExpiresAt, byte[] KeyHash, string Prefix);

/// <summary>What <see cref="ITenantStore.RevokeApiKeyAsync"/> did.</summary>
public enum ApiKeyRevocation
{
    /// <summary>The key is revoked now (or was already).</summary>
    Revoked,

    /// <summary>The tenant has no key with that id.</summary>
    NotFound,

    /// <summary>Refused: it is the tenant's last usable admin key, and the caller asked to keep one.</summary>
    LastAdminKey,
}

public interface ITenantStore
{
    Task<Tenant> CreateTenantAsync(string name, CancellationToken ct);
    Task<Tenant?> GetTenantAsync(Guid tenantId, CancellationToken ct);
    Task<IReadOnlyList<Tenant>> ListTenantsAsync(CancellationToken ct);
    Task<ApiKey> CreateApiKeyAsync(Guid tenantId, Guid? sourceId, IReadOnlyList<string> roles, byte[] keyHash, string prefix, CancellationToken ct);
    /// <summary>Stores a key and announces it on the change feed (<see cref="ChangeKinds.ApiKeys"/>) in the same
    /// transaction.</summary>
    Task<ApiKey> CreateApiKeyAsync(NewApiKey key, CancellationToken ct);
    /// <summary>The key with this hash, unless revoked (an expired key is returned: the caller checks
    /// <see cref="ApiKey.ExpiredAt"/> on every request, also against its cached copy).</summary>
    Task<ApiKey?> FindApiKeyAsync(byte[] keyHash, CancellationToken ct);
    /// <summary>The tenant's keys, revoked ones included, oldest first.</summary>
    Task<IReadOnlyList<ApiKey>> ListApiKeysAsync(Guid tenantId, CancellationToken ct);
    /// <summary>Revokes the tenant's key <paramref name="keyId"/> and announces it on the change feed in the same
    /// transaction, so every node drops its cached copy. With <paramref name="keepAnAdminKey"/> it refuses to revoke the
    /// tenant's last admin key that is neither revoked nor expired (checked under a per-tenant lock, so two concurrent
    /// revocations cannot both pass). Revoking a revoked key changes nothing and answers <see cref="ApiKeyRevocation.Revoked"/>.</summary>
    Task<ApiKeyRevocation> RevokeApiKeyAsync(Guid tenantId, Guid keyId, bool keepAnAdminKey, CancellationToken ct);
    /// <summary>Records when keys were last used, one batched write; a time older than the stored one is ignored.</summary>
    Task TouchApiKeysAsync(IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> uses, CancellationToken ct);
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
