namespace Herald.Storage;

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
