using Herald.Storage.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Storage.Tests;

/// <summary>The compliance suite against the embedded SQLite store: a fresh file per test.</summary>
public sealed class SqliteStoreComplianceTests : StoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
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

    public StoreSet Open() => Open(TimeProvider.System);

    public StoreSet Open(TimeProvider time) =>
        new(new ServiceCollection().AddSingleton(time).AddSingleton(TestSecrets.Protector).AddSqliteStorage(ConnectionString).BuildServiceProvider());

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
