using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Testing;

[assembly: AssemblyFixture(typeof(PostgresServer))]

namespace Herald.EndToEnd.Tests.Infrastructure;

/// <summary>One host per test class, on its own fresh database of the shared throwaway PostgreSQL server.</summary>
public sealed class PipelineHostFixture(PostgresServer postgres) : IAsyncLifetime
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
