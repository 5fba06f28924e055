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

    public async ValueTask InitializeAsync()
    {
        var database = await postgres.CreateDatabaseAsync("e2e_" + Guid.NewGuid().ToString("N")[..12]);
        Host = await HeraldHost.StartAsync(Herald.Server.Hosting.HeraldRole.All, HeraldHost.BaseSettings(database));
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>One embedded (SQLite) host per test class, on a fresh file in a temp folder.</summary>
public sealed class SqlitePipelineHostFixture : IAsyncLifetime
{
    private readonly TempFolder _folder = new();

    public HeraldHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync() =>
        Host = await HeraldHost.StartAsync(Herald.Server.Hosting.HeraldRole.All, HeraldHost.SqliteSettings(_folder.Path));

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        _folder.Dispose();
    }
}

public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "herald-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a closing host; the OS temp cleaner takes it.
        }
    }
}
