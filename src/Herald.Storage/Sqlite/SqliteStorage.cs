using Herald.Core.Providers;
using Herald.Redis;
using Herald.Storage.Secrets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.Storage.Sqlite;

/// <summary>The embedded store (SPEC §4): every store contract over one SQLite file, for a single node.</summary>
public static class SqliteStorage
{
    /// <summary>
    /// Registers the SQLite implementations of <see cref="ITenantStore"/>, <see cref="IProviderStore"/>,
    /// <see cref="INotificationStore"/>, <see cref="IDeliveryStore"/>, <see cref="IStorageMigrator"/> and
    /// <see cref="IStorageHealth"/> as singletons. The database file's folder is created if missing; the schema is
    /// not: run <see cref="IStorageMigrator.MigrateAsync"/> first. Uses the registered <see cref="TimeProvider"/>,
    /// else the system clock, for the times the stores take themselves (creation times, wait timeouts).
    /// </summary>
    /// <param name="connectionString">A Microsoft.Data.Sqlite connection string naming a file, e.g. <c>Data Source=data/herald.db</c>.</param>
    public static IServiceCollection AddSqliteStorage(this IServiceCollection services, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new SqliteDatabase(connectionString, sp.GetRequiredService<TimeProvider>()));
        // One node: changes reach this node's subscribers in process (and Redis, when configured, as before).
        services.AddSingleton(sp => new ChangeFeed(
            null,
            sp.GetService<RedisConnection>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<ChangeFeed>>() ?? NullLogger<ChangeFeed>.Instance));
        services.AddSingleton<IChangeFeed>(sp => sp.GetRequiredService<ChangeFeed>());
        services.AddSingleton<ITenantKeyStore, SqliteTenantKeyStore>();
        services.AddSingleton<TenantKeys>();
        services.AddSingleton<ITenantStore, SqliteTenantStore>();
        services.AddSingleton<IProviderStore, SqliteProviderStore>();
        services.AddSingleton<IProviderAccountSource>(static sp => sp.GetRequiredService<IProviderStore>());
        services.AddSingleton<ISourceStore, SqliteSourceStore>();
        services.AddSingleton<INotificationStore, SqliteNotificationStore>();
        services.AddSingleton<IDeliveryStore, SqliteDeliveryStore>();
        services.AddSingleton<IWebhookStore, SqliteWebhookStore>();
        services.AddSingleton<ICustomerMessageStore, SqliteCustomerMessageStore>();
        services.AddSingleton<IServiceWindowStore, SqliteServiceWindowStore>();
        services.AddSingleton<IRuleStore, SqliteRuleStore>();
        services.AddSingleton<IStorageMigrator, SqliteMigrator>();
        services.AddSingleton<IStorageHealth, SqliteHealth>();
        services.AddSingleton<ICustomerStore, SqliteCustomerStore>();
        services.AddSingleton<ITemplateStore, SqliteTemplateStore>();
        services.AddSingleton<IDigestStore, SqliteDigestStore>();
        services.AddSingleton<IAttemptPartStore, SqliteAttemptPartStore>();
        services.AddSingleton<IThrottleStore, SqliteThrottleStore>();
        services.AddSingleton<IRetentionStore, SqliteRetentionStore>();
        services.AddSingleton<IConsentStore, SqliteConsentStore>();
        services.AddSingleton<IErasureStore, SqliteErasureStore>();
        services.AddSingleton<IProviderCircuitStore, SqliteProviderCircuitStore>();
        services.AddSingleton<IQueueStats, SqliteQueueStats>();
        services.AddSingleton<IAuditStore, SqliteAuditStore>();
        services.AddSingleton<INotificationCountStore, SqliteNotificationCountStore>();
        services.AddSingleton<IReencryptionStore, SqliteReencryptionStore>();
        services.AddSingleton<Reencryptor>();
        return services;
    }
}
