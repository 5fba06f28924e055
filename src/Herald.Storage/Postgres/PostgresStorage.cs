using Herald.Core.Providers;
using Herald.Redis;
using Herald.Storage.Secrets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Herald.Storage.Postgres;

public static class PostgresStorage
{
    /// <summary>
    /// Registers the PostgreSQL stores (tenants, providers, notifications, delivery queue), the migrator and the
    /// health check as singletons over one <see cref="NpgsqlDataSource"/>.
    /// </summary>
    public static IServiceCollection AddPostgresStorage(this IServiceCollection services, string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        if (new NpgsqlConnectionStringBuilder(connectionString) is { IncludeErrorDetail: true } or { LogParameters: true })
        {
            // Both copy row values (a unique key, a customer's data) into exceptions and logs.
            throw new ArgumentException("it sets 'Include Error Detail' or 'Log Parameters'; remove them: they copy customer data into error messages and logs.");
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var builder = new NpgsqlDataSourceBuilder(connectionString);
            // The hot statements (ingest insert, claim, apply) are large CTEs: preparing them once per connection saves
            // their parse and plan on every execution. An explicit "Max Auto Prepare" in the connection string wins.
            if (!new NpgsqlConnectionStringBuilder(connectionString).ContainsKey("Max Auto Prepare"))
            {
                builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
                builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
            }

            if (sp.GetService<ILoggerFactory>() is { } loggers)
            {
                builder.UseLoggerFactory(loggers);
            }

            return builder.Build();
        });
        services.TryAddSingleton<ITenantKeyStore, PostgresTenantKeyStore>();
        services.TryAddSingleton<TenantKeys>();
        services.TryAddSingleton<PostgresTenantStore>();
        services.TryAddSingleton<PostgresProviderStore>();
        services.TryAddSingleton<PostgresSourceStore>();
        services.TryAddSingleton<PostgresNotificationStore>();
        services.TryAddSingleton<PostgresRuleStore>();
        // The one listening connection of the node: queue wake-ups and configuration changes (Redis when present).
        services.TryAddSingleton(sp => new ChangeFeed(
            sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetService<RedisConnection>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<ChangeFeed>>() ?? NullLogger<ChangeFeed>.Instance));
        services.TryAddSingleton<IChangeFeed>(sp => sp.GetRequiredService<ChangeFeed>());
        services.TryAddSingleton<PostgresDeliveryStore>();
        services.TryAddSingleton<PostgresWebhookStore>();
        services.TryAddSingleton<PostgresMigrator>();
        services.TryAddSingleton<PostgresHealth>();
        services.TryAddSingleton<ITenantStore>(sp => sp.GetRequiredService<PostgresTenantStore>());
        services.TryAddSingleton<IProviderStore>(sp => sp.GetRequiredService<PostgresProviderStore>());
        services.TryAddSingleton<IProviderAccountSource>(static sp => sp.GetRequiredService<IProviderStore>());
        services.TryAddSingleton<ISourceStore>(sp => sp.GetRequiredService<PostgresSourceStore>());
        services.TryAddSingleton<INotificationStore>(sp => sp.GetRequiredService<PostgresNotificationStore>());
        services.TryAddSingleton<IDeliveryStore>(sp => sp.GetRequiredService<PostgresDeliveryStore>());
        services.TryAddSingleton<IWebhookStore>(sp => sp.GetRequiredService<PostgresWebhookStore>());
        services.TryAddSingleton<ICustomerMessageStore, PostgresCustomerMessageStore>();
        services.TryAddSingleton<IServiceWindowStore, PostgresServiceWindowStore>();
        services.TryAddSingleton<IRuleStore>(sp => sp.GetRequiredService<PostgresRuleStore>());
        services.TryAddSingleton<IStorageMigrator>(sp => sp.GetRequiredService<PostgresMigrator>());
        services.TryAddSingleton<IStorageHealth>(sp => sp.GetRequiredService<PostgresHealth>());
        services.TryAddSingleton<ICustomerStore, PostgresCustomerStore>();
        services.TryAddSingleton<IDigestStore, PostgresDigestStore>();
        services.TryAddSingleton<IAttemptPartStore, PostgresAttemptPartStore>();
        services.TryAddSingleton<IThrottleStore, PostgresThrottleStore>();
        services.TryAddSingleton<IRetentionStore, PostgresRetentionStore>();
        services.TryAddSingleton<IConsentStore, PostgresConsentStore>();
        services.TryAddSingleton<IErasureStore, PostgresErasureStore>();
        services.TryAddSingleton<ITemplateStore, PostgresTemplateStore>();
        services.TryAddSingleton<IProviderCircuitStore, PostgresProviderCircuitStore>();
        services.TryAddSingleton<IQueueStats, PostgresQueueStats>();
        services.TryAddSingleton<IAuditStore, PostgresAuditStore>();
        services.TryAddSingleton<INotificationCountStore, PostgresNotificationCountStore>();
        services.TryAddSingleton<IReencryptionStore, PostgresReencryptionStore>();
        services.TryAddSingleton<Reencryptor>();
        return services;
    }
}
