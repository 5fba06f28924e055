using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Testing;

[assembly: AssemblyFixture(typeof(PostgresFixture))]

namespace Herald.EndToEnd.Tests.Infrastructure;

/// <summary>One host per test class, on its own fresh database of the shared throwaway PostgreSQL server.</summary>
/// <summary>The throwaway PostgreSQL server all end-to-end tests share.</summary>
public sealed class PostgresFixture : PostgresServer, IAsyncLifetime;

public sealed class PipelineHostFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public HeraldHost Host { get; private set; } = null!;

    public string ConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        ConnectionString = await postgres.CreateDatabaseAsync("e2e_" + Guid.NewGuid().ToString("N")[..12]);
        Host = await HeraldHost.StartAsync(Herald.Server.Hosting.HeraldRole.All, HeraldHost.BaseSettings(ConnectionString));
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}
