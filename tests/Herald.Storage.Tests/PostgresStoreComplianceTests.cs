using Herald.Storage.Postgres;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Storage.Tests;

/// <summary>The compliance suite against PostgreSQL, one fresh database per test.</summary>
public sealed class PostgresStoreComplianceTests(PostgresFixture server) : StoreComplianceTests
{
    protected override async Task<StoreSet> CreateStoresAsync() => await PostgresStores.CreateAsync(server, Ct);
}

internal static class PostgresStores
{
    private static int _counter;

    public static async Task<StoreSet> CreateAsync(PostgresFixture server, CancellationToken ct)
    {
        var name = $"herald_test_{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}";
        var connectionString = await server.CreateDatabaseAsync(name, ct);
        return Create(connectionString);
    }

    public static StoreSet Create(string connectionString)
    {
        var services = new ServiceCollection().AddPostgresStorage(connectionString).BuildServiceProvider();
        return new StoreSet(
            services.GetRequiredService<ITenantStore>(),
            services.GetRequiredService<IProviderStore>(),
            services.GetRequiredService<INotificationStore>(),
            services.GetRequiredService<IDeliveryStore>(),
            services.GetRequiredService<IStorageMigrator>(),
            services.GetRequiredService<IStorageHealth>(),
            services);
    }
}
