using Herald.Redis;
using Herald.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Herald.Channels.Tests.Redis;

/// <summary>The optional Redis connection: absent, working, and coming back after the server was killed.</summary>
public sealed class RedisConnectionTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly RedisServer _server = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => _server.StartAsync(Ct);

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task NotConfigured_HasNoMultiplexerAndNeverConnects()
    {
        await using var redis = new RedisConnection(null, NullLogger<RedisConnection>.Instance);

        Assert.False(redis.IsConfigured);
        Assert.Null(redis.Multiplexer);
        Assert.False(await redis.WaitConnectedAsync(TimeSpan.FromMilliseconds(10), Ct));
    }

    [Fact]
    public async Task ServerKilledAndRestarted_ConnectionComesBackByItself()
    {
        await using var redis = new RedisConnection(_server.ConnectionString, NullLogger<RedisConnection>.Instance);
        Assert.True(await redis.WaitConnectedAsync(Deadline, Ct));
        var db = redis.Multiplexer!.GetDatabase();
        await db.StringSetAsync("k", "v");
        Assert.Equal("v", (string?)await db.StringGetAsync("k"));

        await _server.StopAsync(Ct);
        await Assert.ThrowsAnyAsync<RedisException>(async () =>
        {
            // The multiplexer notices the dead socket on the next command (or its heartbeat).
            while (true)
            {
                await db.PingAsync();
                await Task.Delay(20, Ct);
            }
        });

        await _server.StartAsync(Ct);
        Assert.True(await redis.WaitConnectedAsync(Deadline, Ct));
        await db.StringSetAsync("k2", "v2");
        Assert.Equal("v2", (string?)await db.StringGetAsync("k2"));
    }

    [Fact]
    public async Task ServerDownAtStart_ConnectsOnceItIsUp()
    {
        await _server.StopAsync(Ct);
        await using var redis = new RedisConnection(_server.ConnectionString, NullLogger<RedisConnection>.Instance);
        Assert.True(redis.IsConfigured);
        Assert.False(await redis.WaitConnectedAsync(TimeSpan.FromMilliseconds(300), Ct));

        await _server.StartAsync(Ct);

        Assert.True(await redis.WaitConnectedAsync(Deadline, Ct));
    }
}
