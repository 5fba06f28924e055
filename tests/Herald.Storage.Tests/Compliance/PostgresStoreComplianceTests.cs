using Herald.Storage.Postgres;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Storage.Tests;

/// <summary>The compliance suite against PostgreSQL: a fresh database per test on the shared throwaway server.</summary>
public sealed class PostgresStoreComplianceTests(PostgresFixture server) : StoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

/// <summary>A fresh database on the shared server; the server (and with it the database) goes away with the test run.</summary>
public sealed class PostgresTestBackend : IStoreTestBackend
{
    private static int _counter;

    private PostgresTestBackend(string connectionString) => ConnectionString = connectionString;

    public string ConnectionString { get; }

    public static async Task<PostgresTestBackend> CreateAsync(PostgresFixture server, CancellationToken ct)
    {
        var name = $"herald_test_{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}";
        return new PostgresTestBackend(await server.CreateDatabaseAsync(name, ct));
    }

    public StoreSet Open() => PostgresStores.Create(ConnectionString);

    public StoreSet Open(TimeProvider time) => PostgresStores.Create(ConnectionString, time);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal static class PostgresStores
{
    public static StoreSet Create(string connectionString) => Create(connectionString, TimeProvider.System);

    public static StoreSet Create(string connectionString, TimeProvider time) =>
        new(new ServiceCollection().AddSingleton(time).AddSingleton(TestSecrets.Protector).AddPostgresStorage(connectionString).BuildServiceProvider());
}
