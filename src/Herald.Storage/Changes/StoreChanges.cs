using System.Globalization;
using Herald.Core.Providers;

namespace Herald.Storage;

/// <summary>What each configuration store announces, the same for both backends.</summary>
internal static class StoreChanges
{
    /// <summary>A new rule-set version: receivers load that version.</summary>
    public static Change Rules(RuleSetVersion stored) =>
        new(ChangeKinds.Rules, stored.TenantId, stored.Version.ToString(CultureInfo.InvariantCulture));

    /// <summary>A customer's change; none for an id too long to travel (the API refuses such ids; the cache TTL covers
    /// them).</summary>
    public static Change? Customer(Guid tenantId, string customerId) =>
        Change.Fits(customerId) ? new Change(ChangeKinds.Customer, tenantId, customerId) : null;

    /// <summary>Templates are cached per tenant, so a change of one announces the tenant's whole set.</summary>
    public static Change Templates(Guid tenantId) => new(ChangeKinds.Templates, tenantId, "*");

    /// <summary>Stored accounts: the account's id, or "*" for several. Every node's routing table holds all accounts in
    /// one snapshot and reloads it whole, so the key only tells what changed.</summary>
    public static Change? Providers(IReadOnlyList<ProviderAccount> accounts) => accounts.Count switch
    {
        0 => null,
        1 => Provider(accounts[0].TenantId, accounts[0].Id),
        _ => new Change(ChangeKinds.Providers, accounts[0].TenantId, "*"),
    };

    /// <summary>An API key created or revoked: receivers drop their cached copy of that key.</summary>
    public static Change ApiKey(Guid tenantId, Guid keyId) => new(ChangeKinds.ApiKeys, tenantId, keyId.ToString("D"));

    /// <summary>A tenant's consent ledger grew: receivers reload that tenant's opt-out view.</summary>
    public static Change Consents(Guid tenantId) => new(ChangeKinds.Consents, tenantId, "*");

    public static Change Provider(Guid tenantId, Guid accountId) => new(ChangeKinds.Providers, tenantId, accountId.ToString("D"));
}
