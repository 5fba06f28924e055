using System.Net;
using System.Net.Sockets;
using Herald.Testing;
using Npgsql;

namespace Herald.Storage.Tests;

/// <summary>
/// The throwaway servers pick a port that was free a moment ago; another process can take it before the server binds
/// it. Then the start must move to another port (and never mistake the other process for its own server), not fail.
/// The race is forced: the first pick is a port a listener here already holds.
/// </summary>
public sealed class ThrowawayServerPortTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Redis_PortTakenBeforeItBinds_StartsOnAnotherPort_AndAnswersItself()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var takenPort = ((IPEndPoint)taken.LocalEndpoint).Port;
        await using var server = new RaceLosingRedis(takenPort);

        await server.StartAsync(Ct);

        Assert.NotEqual(takenPort, server.Port);
        Assert.True(server.Picks >= 2);
        Assert.Equal("+PONG", await server.CommandAsync("PING", Ct));
    }

    [Fact]
    public async Task Postgres_PortTakenBeforeItBinds_StartsOnAnotherPort_AndServesItsOwnData()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var takenPort = ((IPEndPoint)taken.LocalEndpoint).Port;
        await using var server = new RaceLosingPostgres(takenPort);

        await server.StartAsync(Ct);

        Assert.NotEqual(takenPort, server.Port);
        Assert.True(server.Picks >= 2);
        var cs = await server.CreateDatabaseAsync("port_race", Ct);
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand("SHOW data_directory", conn);
        Assert.Equal(server.DataDirectory, await cmd.ExecuteScalarAsync(Ct));
    }

    /// <summary>Loses the race once: its first pick is a port someone else already listens on.</summary>
    private sealed class RaceLosingRedis(int takenPort) : RedisServer
    {
        private int _picks;

        public int Picks => _picks;

        protected override int PickPort() => Interlocked.Increment(ref _picks) == 1 ? takenPort : base.PickPort();
    }

    private sealed class RaceLosingPostgres(int takenPort) : PostgresServer(allowExternal: false)
    {
        private int _picks;

        public int Picks => _picks;

        protected override int PickPort() => Interlocked.Increment(ref _picks) == 1 ? takenPort : base.PickPort();
    }
}
