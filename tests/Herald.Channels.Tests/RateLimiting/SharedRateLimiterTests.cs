using Herald.Channels.Providers.RateLimiting;
using Herald.Redis;
using Herald.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.Channels.Tests.RateLimiting;

/// <summary>The Lua schedule against a real Redis: atomic under concurrency from many tasks and connections, on the
/// server's clock.</summary>
public sealed class SharedRateLimiterTests : IAsyncLifetime
{
    private const long MaxRetry = 60_000_000;
    private readonly RedisServer _server = new();
    private readonly List<RedisConnection> _connections = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Generous: this suite checks the algorithm, not Redis latency on a busy test machine.
    private static RateLimitOptions Options => new() { RedisTimeout = TimeSpan.FromSeconds(1) };

    public ValueTask InitializeAsync() => _server.StartAsync(Ct);

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        await _server.DisposeAsync();
    }

    private async Task<SharedRateLimiter> NodeAsync(RateLimitOptions? options = null)
    {
        var connection = new RedisConnection(_server.ConnectionString, NullLogger<RedisConnection>.Instance);
        _connections.Add(connection);
        Assert.True(await connection.WaitConnectedAsync(TimeSpan.FromSeconds(30), Ct));
        return new SharedRateLimiter(connection, TimeProvider.System, options ?? Options);
    }

    [Fact]
    public async Task DecideAsync_ManyTasksOnTwoConnections_BookDistinctSlotsOneIntervalApart()
    {
        var nodes = new[] { await NodeAsync(), await NodeAsync() };
        var account = Guid.NewGuid();
        const long interval = 2_000; // 500/s

        var decisions = await Task.WhenAll(Enumerable.Range(0, 40).Select(task => Task.Run(async () =>
        {
            var mine = new List<GcraDecision>();
            for (var i = 0; i < 25; i++)
            {
                mine.Add((await nodes[task % 2].DecideAsync(account, interval, horizon: 30_000_000, MaxRetry, Ct))!.Value);
            }

            return mine;
        }, Ct)));

        var all = decisions.SelectMany(d => d).ToList();
        Assert.Equal(1_000, all.Count(d => d.Granted));
        var slots = all.Select(d => d.Now + d.Wait).Order().ToList();
        Assert.All(slots.Zip(slots.Skip(1)), pair => Assert.True(pair.Second - pair.First >= interval, $"{pair.First} -> {pair.Second}"));
        Assert.Equal(500, GcraTests.SlidingMax(slots));
    }

    [Fact]
    public async Task DecideAsync_SaturatedByLowLane_CriticalGetsTheNextSlot()
    {
        var node = await NodeAsync();
        var account = Guid.NewGuid();
        const long interval = 10_000, low = 25_000, critical = 250_000;
        GcraDecision decision;
        do
        {
            decision = (await node.DecideAsync(account, interval, low, MaxRetry, Ct))!.Value;
        }
        while (decision.Granted);

        var forCritical = (await node.DecideAsync(account, interval, critical, MaxRetry, Ct))!.Value;

        Assert.True(forCritical.Granted);
        // The low lane was turned away because its next slot lay past 25 ms; critical takes that very slot.
        Assert.InRange(forCritical.Wait, 0, low + interval);
    }

    [Fact]
    public async Task DecideAsync_TurnedAwaySends_GetVirtualSlotsOneIntervalApartOnTheServerClock()
    {
        var node = await NodeAsync();
        var account = Guid.NewGuid();
        const long interval = 10_000_000; // 0.1/s: nothing frees up during the test

        var first = (await node.DecideAsync(account, interval, 0, MaxRetry, Ct))!.Value;
        var turnedAway = new List<GcraDecision>();
        for (var i = 0; i < 4; i++)
        {
            turnedAway.Add((await node.DecideAsync(account, interval, 0, MaxRetry, Ct))!.Value);
        }

        Assert.True(first.Granted);
        Assert.Equal(0, first.Wait);
        Assert.All(turnedAway, d => Assert.False(d.Granted));
        // Now + RetryAfter is the virtual slot: the first free slot plus one interval per earlier turned-away send.
        Assert.Equal(
            Enumerable.Range(1, 4).Select(i => first.Now + ((i + 1) * interval)),
            turnedAway.Select(d => d.Now + d.RetryAfter));
    }

    [Fact]
    public async Task HeartbeatAsync_CountsLiveNodes_AndForgetsThoseThatStop()
    {
        var node = await NodeAsync();

        Assert.Equal(new LiveNodes(1, 0), await node.HeartbeatAsync("a", Ct));
        Assert.Equal(new LiveNodes(2, 0), await node.HeartbeatAsync("b", Ct));
        Assert.Equal(new LiveNodes(2, 0), await node.HeartbeatAsync("a", Ct));
        await node.LeaveAsync("b", Ct);
        // A node that left is gone, not lost: nobody keeps its share free.
        Assert.Equal(new LiveNodes(1, 0), await node.HeartbeatAsync("a", Ct));
    }

    [Fact]
    public async Task HeartbeatAsync_NodeExpiringWithoutLeaving_IsLost_UntilItAnnouncesItselfAgain()
    {
        var node = await NodeAsync(new RateLimitOptions { RedisTimeout = TimeSpan.FromSeconds(1), NodeTimeout = TimeSpan.FromMilliseconds(300), LostNodeReserve = TimeSpan.FromMinutes(5) });
        Assert.Equal(new LiveNodes(1, 0), await node.HeartbeatAsync("a", Ct));
        Assert.Equal(new LiveNodes(2, 0), await node.HeartbeatAsync("cut-off", Ct));

        // "cut-off" stops announcing itself (it may be sending on its local share); "a" goes on.
        LiveNodes? seen;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            await Task.Delay(50, Ct);
            seen = await node.HeartbeatAsync("a", Ct);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"still {seen}");
        }
        while (seen != new LiveNodes(1, 1));

        Assert.Equal(new LiveNodes(1, 1), await node.HeartbeatAsync("a", Ct));
        Assert.Equal(new LiveNodes(2, 0), await node.HeartbeatAsync("cut-off", Ct));
    }

    [Fact]
    public async Task BookAsync_SeveralSlots_BooksThoseWithinTheHorizon_AndAFullScheduleLeavesTheVirtualQueueAlone()
    {
        var node = await NodeAsync();
        var account = Guid.NewGuid();
        const long interval = 10_000_000, horizon = 25_000_000; // 10 s apart, 25 s ahead: nothing moves during the test

        var booked = (await node.BookAsync(account, interval, horizon, MaxRetry, 8, queue: false, TimeSpan.FromSeconds(1), Ct)).Decision!.Value;
        var full = (await node.BookAsync(account, interval, horizon, MaxRetry, 8, queue: false, TimeSpan.FromSeconds(1), Ct)).Decision!.Value;
        var queued = (await node.BookAsync(account, interval, horizon, MaxRetry, 1, queue: true, TimeSpan.FromSeconds(1), Ct)).Decision!.Value;

        Assert.Equal((true, 0L, 3), (booked.Granted, booked.Wait, booked.Slots));
        // Next free slot at +30 s, within reach 5 s from the first call; nothing else changed.
        Assert.False(full.Granted);
        Assert.Equal(booked.Now + 5_000_000, full.Now + full.RetryAfter);
        // The first turned-away send that takes a virtual slot gets the one after the next free slot.
        Assert.Equal(booked.Now + (4 * interval) - horizon, queued.Now + queued.RetryAfter);
    }

    [Fact]
    public async Task DecideAsync_RedisDown_ReturnsNullInsteadOfThrowing()
    {
        var node = await NodeAsync();
        await _server.StopAsync(Ct);

        Assert.Null(await node.DecideAsync(Guid.NewGuid(), 10_000, 0, MaxRetry, Ct));
        Assert.Null(await node.HeartbeatAsync("a", Ct));
        // No connection at all, as opposed to a slow answer: the limiter's circuit opens on this at once.
        Assert.True((await node.BookAsync(Guid.NewGuid(), 10_000, 0, MaxRetry, 1, queue: false, TimeSpan.FromSeconds(1), Ct)).Unreachable);
    }
}
