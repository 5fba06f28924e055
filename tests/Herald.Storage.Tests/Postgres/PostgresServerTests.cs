using Herald.Storage.Postgres;
using Herald.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Herald.Storage.Tests;

/// <summary>The throwaway server itself: restart keeps port and data, and stores recover across it.</summary>
public sealed class PostgresServerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Restart_SamePortAndData_StoresRecover()
    {
        // A server of its own even when Herald_TEST_POSTGRES names an external one: that one cannot be restarted.
        await using var server = new PostgresServer(allowExternal: false);
        await server.StartAsync(Ct);
        var port = server.Port;
        var cs = await server.CreateDatabaseAsync("restart_test", Ct);
        await using var services = new ServiceCollection().AddSingleton(TestSecrets.Protector).AddPostgresStorage(cs).BuildServiceProvider();
        await services.GetRequiredService<IStorageMigrator>().MigrateAsync(Ct);
        var tenants = services.GetRequiredService<ITenantStore>();
        var tenant = await tenants.CreateTenantAsync("before", Ct);
        var delivery = services.GetRequiredService<IDeliveryStore>();
        await delivery.WaitForWorkAsync(TimeSpan.FromMilliseconds(10), Ct);

        await server.RestartAsync(Ct);

        Assert.Equal(port, server.Port);
        Assert.True(await services.GetRequiredService<IStorageHealth>().IsReadyAsync(Ct));
        Assert.Equal("before", (await tenants.GetTenantAsync(tenant.Id, Ct))!.Name);
        // The listener reconnects and listens again: a wait ends on a wake-up sent after the restart.
        var wait = delivery.WaitForWorkAsync(TimeSpan.FromSeconds(60), Ct);
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync(Ct);
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        while (!wait.IsCompleted)
        {
            Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(20), "The listener did not come back after the restart.");
            await using var notify = new NpgsqlCommand("NOTIFY herald_queue", conn);
            await notify.ExecuteNonQueryAsync(Ct);
            await Task.WhenAny(wait, Task.Delay(TimeSpan.FromMilliseconds(200), Ct));
        }

        await wait;
    }
}
