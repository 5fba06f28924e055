namespace Herald.Storage.Tests;

/// <summary>Every store of one backend over one fresh database; disposing releases its connections.</summary>
public sealed record StoreSet(
    ITenantStore Tenants,
    IProviderStore Providers,
    INotificationStore Notifications,
    IDeliveryStore Delivery,
    IStorageMigrator Migrator,
    IStorageHealth Health,
    IAsyncDisposable Owner);
