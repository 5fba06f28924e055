using Microsoft.Extensions.DependencyInjection;

namespace Herald.Storage.Tests;

/// <summary>
/// One backend's throwaway database for one test of <see cref="StoreComplianceTests"/>: fresh, empty and not yet
/// migrated. Adding a backend means implementing this (and deriving a class from the suite that creates it).
/// </summary>
public interface IStoreTestBackend : IAsyncDisposable
{
    /// <summary>Opens the stores on this backend's database: a fresh service provider per call, the same data.</summary>
    StoreSet Open();

    /// <summary>Like <see cref="Open()"/>, with the stores on <paramref name="time"/> (a test clock).</summary>
    StoreSet Open(TimeProvider time);
}

/// <summary>The store contracts resolved from one service provider; disposing it releases its connections.</summary>
public sealed class StoreSet(ServiceProvider services) : IAsyncDisposable
{
    public ITenantStore Tenants { get; } = services.GetRequiredService<ITenantStore>();
    public IProviderStore Providers { get; } = services.GetRequiredService<IProviderStore>();
    public ISourceStore Sources { get; } = services.GetRequiredService<ISourceStore>();
    public INotificationStore Notifications { get; } = services.GetRequiredService<INotificationStore>();
    public IDeliveryStore Delivery { get; } = services.GetRequiredService<IDeliveryStore>();
    public IWebhookStore Webhooks { get; } = services.GetRequiredService<IWebhookStore>();
    public IRuleStore Rules { get; } = services.GetRequiredService<IRuleStore>();
    public IStorageMigrator Migrator { get; } = services.GetRequiredService<IStorageMigrator>();
    public IStorageHealth Health { get; } = services.GetRequiredService<IStorageHealth>();
    public ICustomerStore Customers { get; } = services.GetRequiredService<ICustomerStore>();
    public ITemplateStore Templates { get; } = services.GetRequiredService<ITemplateStore>();
    public IDigestStore Digests { get; } = services.GetRequiredService<IDigestStore>();
    public IAttemptPartStore Parts { get; } = services.GetRequiredService<IAttemptPartStore>();
    public IThrottleStore Throttles { get; } = services.GetRequiredService<IThrottleStore>();
    public IProviderCircuitStore Circuits { get; } = services.GetRequiredService<IProviderCircuitStore>();
    public IQueueStats QueueStats { get; } = services.GetRequiredService<IQueueStats>();
    public IAuditStore Audit { get; } = services.GetRequiredService<IAuditStore>();
    public INotificationCountStore Counts { get; } = services.GetRequiredService<INotificationCountStore>();
    public IRetentionStore Retention { get; } = services.GetRequiredService<IRetentionStore>();
    public IChangeFeed Changes { get; } = services.GetRequiredService<IChangeFeed>();
    public ICustomerMessageStore Messages { get; } = services.GetRequiredService<ICustomerMessageStore>();
    public IServiceWindowStore Windows { get; } = services.GetRequiredService<IServiceWindowStore>();
    public IConsentStore Consents { get; } = services.GetRequiredService<IConsentStore>();
    public IErasureStore Erasure { get; } = services.GetRequiredService<IErasureStore>();
    public Herald.Storage.Secrets.TenantKeys Keys { get; } = services.GetRequiredService<Herald.Storage.Secrets.TenantKeys>();
    public Reencryptor Reencryptor { get; } = services.GetRequiredService<Reencryptor>();
    public IReencryptionStore Reencryption { get; } = services.GetRequiredService<IReencryptionStore>();

    public ValueTask DisposeAsync() => services.DisposeAsync();
}

/// <summary>
/// What every contract suite shares: a fresh database per test from the backend the derived class creates, migrated
/// before the test and disposed after it.
/// </summary>
public abstract class StoreSuite : IAsyncLifetime
{
    /// <summary>The backend of this test's database, e.g. to open a second, independent set of stores on it.</summary>
    protected IStoreTestBackend Backend { get; private set; } = null!;

    protected StoreSet Stores { get; private set; } = null!;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract Task<IStoreTestBackend> CreateBackendAsync();

    public async ValueTask InitializeAsync()
    {
        Backend = await CreateBackendAsync();
        Stores = Backend.Open();
        await Stores.Migrator.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await Stores.DisposeAsync();
        await Backend.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
