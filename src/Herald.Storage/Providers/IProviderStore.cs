using Herald.Core.Notifications;
using Herald.Core.Providers;

namespace Herald.Storage;

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
/// Every stored change is
/// announced on the <see cref="IChangeFeed"/> as <see cref="ChangeKinds.Providers"/>.
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
