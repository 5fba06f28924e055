using Herald.Storage.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Storage.Tests.Sqlite;

/// <summary>A throwaway database the store contract tests run against. Each backend (SQLite, PostgreSQL) provides one.</summary>
public interface IStoreTestBackend : IAsyncDisposable
{
    /// <summary>Opens the stores on this backend's database: a fresh service provider per call, the same data.</summary>
    StoreSet Open();
}

/// <summary>The store contracts resolved from one service provider.</summary>
public sealed class StoreSet(ServiceProvider services) : IAsyncDisposable
{
    public ITenantStore Tenants { get; } = services.GetRequiredService<ITenantStore>();
    public IProviderStore Providers { get; } = services.GetRequiredService<IProviderStore>();
    public INotificationStore Notifications { get; } = services.GetRequiredService<INotificationStore>();
    public IDeliveryStore Delivery { get; } = services.GetRequiredService<IDeliveryStore>();
    public IStorageMigrator Migrator { get; } = services.GetRequiredService<IStorageMigrator>();
    public IStorageHealth Health { get; } = services.GetRequiredService<IStorageHealth>();

    public ValueTask DisposeAsync() => services.DisposeAsync();
}

/// <summary>A fresh SQLite file in its own temp folder; the folder is deleted on dispose.</summary>
public sealed class SqliteTestBackend : IStoreTestBackend
{
    public SqliteTestBackend()
    {
        Folder = Path.Combine(Path.GetTempPath(), "herald-sqlite-tests", Guid.NewGuid().ToString("N"));
        // A folder that does not exist yet: AddSqliteStorage must create it.
        DatabasePath = Path.Combine(Folder, "data", "herald.db");
    }

    public string Folder { get; }
    public string DatabasePath { get; }
    public string ConnectionString => $"Data Source={DatabasePath}";

    public StoreSet Open()
    {
        var services = new ServiceCollection().AddSqliteStorage(ConnectionString).BuildServiceProvider();
        return new StoreSet(services);
    }

    public ValueTask DisposeAsync()
    {
        // The stores close their connections when their provider is disposed.
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail a test.
        }

        return ValueTask.CompletedTask;
    }
}
