using System.Collections.Concurrent;
using Herald.Channels.Providers.RateLimiting;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Redis;
using Herald.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Herald.Channels.Tests.RateLimiting;

/// <summary>The limiter a node uses: shared through Redis, local when Redis is absent, down or slow, and back.</summary>
public sealed class ProviderRateLimiterTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly RedisServer _server = new();
    private readonly List<IAsyncDisposable> _owned = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => _server.StartAsync(Ct);

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        await _server.DisposeAsync();
    }

    private static ProviderAccount Account(double rate) =>
        new(Guid.NewGuid(), Guid.NewGuid(), Channel.Sms, "twilio-sms", "limited", "{}", 1, true, DateTimeOffset.UnixEpoch) { RatePerSecond = rate };

    private sealed class Node(ProviderRateLimiter limiter, RateLimitHeartbeat heartbeat, RecordingMetrics metrics, RedisConnection redis) : IAsyncDisposable
    {
        public ProviderRateLimiter Limiter => limiter;

        public RecordingMetrics Metrics => metrics;

        public bool Connected => redis.IsConnected;

        public async ValueTask DisposeAsync()
        {
            await heartbeat.StopAsync(CancellationToken.None);
            heartbeat.Dispose();
            await redis.DisposeAsync();
        }
    }

    private async Task<Node> NodeAsync(RateLimitOptions options, TimeProvider? time = null, bool withRedis = true, bool heartbeats = true)
    {
        time ??= TimeProvider.System;
        var redis = new RedisConnection(withRedis ? _server.ConnectionString : null, NullLogger<RedisConnection>.Instance);
        if (withRedis)
        {
            Assert.True(await redis.WaitConnectedAsync(Deadline, Ct));
        }

        var metrics = new RecordingMetrics();
        var shared = new SharedRateLimiter(redis, time, options);
        var limiter = new ProviderRateLimiter(shared, new LocalRateLimiter(time), Options.Create(options), time, metrics, NullLogger<ProviderRateLimiter>.Instance);
        var heartbeat = new RateLimitHeartbeat(limiter, shared, Options.Create(options), time);
        if (heartbeats)
        {
            await heartbeat.StartAsync(Ct);
        }

        var node = new Node(limiter, heartbeat, metrics, redis);
        _owned.Add(node);
        return node;
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what, Func<string>? state = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < Deadline, $"timed out waiting for {what}; {state?.Invoke()}");
            await Task.Delay(20, Ct);
        }
    }

    [Fact]
    public async Task AcquireAsync_AccountWithoutRate_IsGrantedAtOnce()
    {
        var node = await NodeAsync(new RateLimitOptions());
        var unlimited = Account(1) with { RatePerSecond = null };

        for (var i = 0; i < 100; i++)
        {
            Assert.True((await node.Limiter.AcquireAsync(unlimited, Priority.Low, Ct)).Granted);
        }

        Assert.Empty(node.Metrics.Permits);
        Assert.False(node.Limiter.Activated.IsCompleted);
    }

    [Fact]
    public async Task AcquireAsync_RedisNotConfigured_LimitsLocallyToRateOverAssumedNodes()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        // MaxQueueWait 0: a send that finds no slot is turned away after its one try instead of waiting in the line.
        var options = new RateLimitOptions { AssumedNodes = 2, Headroom = 0, MaxWait = TimeSpan.Zero, MaxQueueWait = TimeSpan.Zero };
        var node = await NodeAsync(options, time, withRedis: false);
        var account = Account(100);

        // One low-priority try every millisecond for three seconds (low may not wait: MaxWait 0).
        var granted = new List<DateTimeOffset>();
        for (var ms = 0; ms < 3_000; ms++)
        {
            var permit = await node.Limiter.AcquireAsync(account, Priority.Low, Ct);
            Assert.Equal(RateLimitMode.Local, permit.Mode);
            if (permit.Granted)
            {
                granted.Add(time.GetUtcNow());
            }
            else
            {
                Assert.True(permit.RetryAfter > TimeSpan.Zero);
            }

            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        // 100/s over two assumed nodes: one send every 20 ms, 50 per second.
        Assert.Equal(150, granted.Count);
        Assert.All(granted.Zip(granted.Skip(1)), p => Assert.Equal(TimeSpan.FromMilliseconds(20), p.Second - p.First));
        Assert.Equal(RateLimitMode.Local, node.Limiter.Mode);
        Assert.Equal([RateLimitMode.Local], node.Metrics.Modes);
    }

    [Fact]
    public async Task AcquireAsync_ManyTasks_GrantsComeFromTheSharedScheduleAndAreCounted()
    {
        var options = new RateLimitOptions
        {
            RedisTimeout = TimeSpan.FromSeconds(1), CriticalRedisTimeout = TimeSpan.FromSeconds(1), MaxWait = TimeSpan.FromMilliseconds(40),
        };
        var node = await NodeAsync(options);
        var account = Account(2_000);

        var permits = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            node.Limiter.AcquireAsync(account, i % 10 == 0 ? Priority.Critical : Priority.Low, Ct).AsTask()));

        Assert.All(permits, p => Assert.Equal(RateLimitMode.Shared, p.Mode));
        Assert.Contains(permits, p => p.Granted);
        Assert.Equal(200, node.Metrics.Permits.Count);
        Assert.Equal(permits.Count(p => !p.Granted), node.Metrics.Permits.Count(p => !p.Granted));
        // Every critical send got a slot: critical books up to 250 ms ahead, the low lane only 20 ms.
        Assert.All(permits.Where((_, i) => i % 10 == 0), p => Assert.True(p.Granted));
        Assert.Equal(RateLimitMode.Shared, node.Limiter.Mode);
    }

    [Fact]
    public async Task RedisKilledAndRestarted_NodesLimitLocallyAtTheirShare_ThenShareAgainOnceAllAreBack()
    {
        var options = new RateLimitOptions
        {
            RedisBreak = TimeSpan.FromMilliseconds(100),
            HeartbeatInterval = TimeSpan.FromMilliseconds(100),
            NodeTimeout = TimeSpan.FromSeconds(2),
            RecoveryGrace = TimeSpan.FromMinutes(5), // recovery must end because every node is back, not by time
            RedisTimeout = TimeSpan.FromMilliseconds(500),
            CriticalRedisTimeout = TimeSpan.FromMilliseconds(500),
        };
        var nodes = new[] { await NodeAsync(options), await NodeAsync(options), await NodeAsync(options) };
        var account = Account(300);
        foreach (var node in nodes)
        {
            Assert.Equal(RateLimitMode.Shared, (await node.Limiter.AcquireAsync(account, Priority.Critical, Ct)).Mode);
        }

        await EventuallyAsync(() => Task.FromResult(nodes.All(n => n.Limiter.KnownNodes == 3)), "three live nodes");

        await _server.StopAsync(Ct);
        var first = nodes[0];
        await EventuallyAsync(async () => (await first.Limiter.AcquireAsync(account, Priority.Critical, Ct)).Mode == RateLimitMode.Local && first.Limiter.Mode == RateLimitMode.Local,
            "local limiting after Redis died");
        // Still delivering, at a third of the rate: the last known number of nodes is kept while Redis is gone.
        var local = await first.Limiter.AcquireAsync(account, Priority.Critical, Ct);
        Assert.True(local.Granted);
        Assert.Equal(RateLimitMode.Local, local.Mode);
        Assert.Equal(3, first.Limiter.KnownNodes);

        await _server.StartAsync(Ct);
        // Nodes come back one by one; each keeps to its local share until all three have announced themselves. The
        // restarted Redis counts only the nodes back so far, but the share stays a third while recovering.
        var recoveringShares = new List<int>();
        await EventuallyAsync(async () =>
        {
            foreach (var node in nodes)
            {
                await node.Limiter.AcquireAsync(account, Priority.Critical, Ct);
                if (node.Limiter.Mode == RateLimitMode.Recovering)
                {
                    recoveringShares.Add(node.Limiter.ShareNodes);
                }
            }

            return nodes.All(n => n.Limiter.Mode == RateLimitMode.Shared);
        }, "all nodes shared again", () => string.Join(", ", nodes.Select(n => $"{n.Limiter.Mode}/{n.Limiter.KnownNodes}/{n.Connected}")));

        Assert.Equal(RateLimitMode.Shared, (await first.Limiter.AcquireAsync(account, Priority.Critical, Ct)).Mode);
        Assert.Equal([RateLimitMode.Shared, RateLimitMode.Local, RateLimitMode.Recovering, RateLimitMode.Shared], first.Metrics.Modes);
        Assert.NotEmpty(recoveringShares);
        Assert.All(recoveringShares, share => Assert.Equal(3, share));
    }

    [Fact]
    public async Task NodeStillConnecting_GrantsOnlyCritical_UntilRedisDownAfter_ThenItsLocalShare()
    {
        // Redis configured but nothing answers yet: a node starting while its connection is still being made. Before
        // the fix its refused calls opened the circuit at once and it sent at its whole local share beside the nodes
        // already sharing the schedule in Redis.
        var options = new RateLimitOptions { RedisDownAfter = TimeSpan.FromSeconds(3), MaxQueueWait = TimeSpan.FromMilliseconds(50) };
        var redis = new RedisConnection($"127.0.0.1:{FreePort.Pick()},connectRetry=0", NullLogger<RedisConnection>.Instance);
        var shared = new SharedRateLimiter(redis, TimeProvider.System, options);
        var metrics = new RecordingMetrics();
        var limiter = new ProviderRateLimiter(shared, new LocalRateLimiter(TimeProvider.System), Options.Create(options), TimeProvider.System, metrics, NullLogger<ProviderRateLimiter>.Instance);
        var heartbeat = new RateLimitHeartbeat(limiter, shared, Options.Create(options), TimeProvider.System);
        _owned.Add(new Node(limiter, heartbeat, metrics, redis));
        await heartbeat.StartAsync(Ct);
        var account = Account(1_000);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var critical = await limiter.AcquireAsync(account, Priority.Critical, Ct);
        RatePermit low;
        do
        {
            low = await limiter.AcquireAsync(account, Priority.Low, Ct);
            // Whatever the machine's speed: no non-critical grant before RedisDownAfter without an answer.
            Assert.True(!low.Granted || clock.Elapsed >= options.RedisDownAfter, $"a low send was granted {low.Mode} after {clock.Elapsed}");
            Assert.True(clock.Elapsed < Deadline, "no local grant after RedisDownAfter");
        }
        while (!low.Granted);

        Assert.True(critical.Granted);
        Assert.Equal(RateLimitMode.Local, critical.Mode);
        Assert.Equal(RateLimitMode.Local, low.Mode);
    }

    [Fact]
    public async Task SlowRedis_WhileTheCircuitIsClosed_NonCriticalWaitsAndIsNotGrantedLocally_CriticalGoesLocally()
    {
        // Redis stalls for one to two seconds: slow, not down (RedisDownAfter is longer).
        var options = new RateLimitOptions
        {
            RedisTimeout = TimeSpan.FromMilliseconds(100), RedisDownAfter = TimeSpan.FromSeconds(30), MaxQueueWait = TimeSpan.FromMilliseconds(300),
        };
        var node = await NodeAsync(options);
        var account = Account(1_000);
        // The very first call (script load, JIT) may itself be slow.
        await EventuallyAsync(async () => (await node.Limiter.AcquireAsync(account, Priority.High, Ct)).Mode == RateLimitMode.Shared
            && node.Metrics.Permits[^1].Granted, "a shared permit");

        // A script that keeps the Redis server busy for one to two seconds.
        var busy = _server.CommandAsync(
            "EVAL \"local e = tonumber(redis.call('TIME')[1]) + 2 while tonumber(redis.call('TIME')[1]) < e do end return 1\" 0", Ct);
        RatePermit permit = default;
        await EventuallyAsync(async () =>
        {
            permit = await node.Limiter.AcquireAsync(account, Priority.High, Ct);
            return !permit.Granted || busy.IsCompleted;
        }, "a refusal while Redis is busy");
        var critical = await node.Limiter.AcquireAsync(account, Priority.Critical, Ct);
        var stillBusy = !busy.IsCompleted;

        Assert.True(stillBusy, "the permit had to wait for the busy Redis");
        // Not a local grant on top of the shared schedule the other nodes keep using: it waited its 300 ms in the line
        // and was turned away with a retry-after; the node still shares (a slow Redis does not open the circuit).
        Assert.False(permit.Granted);
        Assert.Equal(RateLimitMode.Shared, permit.Mode);
        Assert.True(permit.RetryAfter > TimeSpan.Zero);
        Assert.Equal(RateLimitMode.Shared, node.Limiter.Mode);
        Assert.True(critical.Granted);
        Assert.Equal(RateLimitMode.Local, critical.Mode);
        await busy;
        Assert.DoesNotContain(RateLimitMode.Local, node.Metrics.Modes);
    }

    [Fact]
    public async Task PartitionedNode_GrantsOnlyCriticalUntilTheOthersHaveSeenItGone_ThenItsShare()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var options = new RateLimitOptions
        {
            Headroom = 0, MaxWait = TimeSpan.Zero, MaxQueueWait = TimeSpan.Zero, CriticalRedisTimeout = TimeSpan.FromSeconds(5),
            RedisTimeout = TimeSpan.FromSeconds(5), RedisDownAfter = TimeSpan.FromSeconds(10), NodeTimeout = TimeSpan.FromSeconds(3),
            HeartbeatInterval = TimeSpan.FromSeconds(1),
        };
        var node = await NodeAsync(options, time, heartbeats: false);
        var account = Account(100); // 10 ms apart; shared between two nodes, 20 ms apart each
        Assert.Equal(RateLimitMode.Shared, (await node.Limiter.AcquireAsync(account, Priority.Critical, Ct)).Mode);
        node.Limiter.OnHeartbeat(new LiveNodes(2, 0));

        // This node loses Redis; whether the other node still reaches it, it cannot tell.
        await _server.StopAsync(Ct);
        await EventuallyAsync(async () => !(await node.Limiter.AcquireAsync(account, Priority.Low, Ct)).Granted
            && node.Limiter.Mode == RateLimitMode.Local, "local limiting");
        var lowDuringGrace = await node.Limiter.AcquireAsync(account, Priority.Low, Ct);
        time.Advance(TimeSpan.FromMilliseconds(4_990));
        var lowLateInGrace = await node.Limiter.AcquireAsync(account, Priority.Low, Ct);
        var criticalInGrace = await node.Limiter.AcquireAsync(account, Priority.Critical, Ct);

        // Nothing but critical until NodeTimeout + 2 × HeartbeatInterval after the last answer: by then the other node
        // has seen this one's heartbeat expire and keeps its share free (LostNodeReserve).
        Assert.False(lowDuringGrace.Granted);
        Assert.Equal(RateLimitMode.Local, lowDuringGrace.Mode);
        Assert.False(lowLateInGrace.Granted);
        Assert.True(criticalInGrace.Granted);

        // Then its local share, half the rate: one send every 20 ms.
        time.Advance(TimeSpan.FromMilliseconds(30));
        var granted = new List<DateTimeOffset>();
        for (var ms = 0; ms < 1_000; ms++)
        {
            if ((await node.Limiter.AcquireAsync(account, Priority.Low, Ct)).Granted)
            {
                granted.Add(time.GetUtcNow());
            }

            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        Assert.InRange(granted.Count, 49, 51);
        Assert.All(granted.Zip(granted.Skip(1)), p => Assert.Equal(TimeSpan.FromMilliseconds(20), p.Second - p.First));
    }

    [Fact]
    public async Task LostNode_TheLiveNodesKeepItsShareFree_OnTheSharedSchedule()
    {
        var options = new RateLimitOptions
        {
            Headroom = 0, RedisTimeout = TimeSpan.FromSeconds(1), CriticalRedisTimeout = TimeSpan.FromSeconds(1), CriticalMaxWait = TimeSpan.FromSeconds(2),
        };
        var node = await NodeAsync(options, heartbeats: false);
        var account = Account(4); // 250 ms apart
        var key = (RedisKey)(options.KeyPrefix + account.Id.ToString("N"));
        await using var redis = new RedisConnection(_server.ConnectionString, NullLogger<RedisConnection>.Instance);
        Assert.True(await redis.WaitConnectedAsync(Deadline, Ct));

        async Task<long> NextFreeSlotAfterASendAsync()
        {
            Assert.True((await node.Limiter.AcquireAsync(account, Priority.Critical, Ct)).Granted);
            return (long)await redis.Multiplexer!.GetDatabase().HashGetAsync(key, "t");
        }

        // One live node (this one) and one lost: the shared schedule runs at half the rate, 500 ms apart.
        node.Limiter.OnHeartbeat(new LiveNodes(1, 1));
        var first = await NextFreeSlotAfterASendAsync();
        var second = await NextFreeSlotAfterASendAsync();
        node.Limiter.OnHeartbeat(new LiveNodes(1, 0));
        var third = await NextFreeSlotAfterASendAsync();
        var fourth = await NextFreeSlotAfterASendAsync();

        Assert.True(second - first >= 500_000, $"{second - first} µs");
        // Lost node back (or its reserve over): the full rate again. (A starved test node can only make gaps longer.)
        Assert.InRange(fourth - third, 250_000, 499_999);
    }

    [Fact]
    public async Task LateSend_ItsSlotLongPast_IsTurnedAway_AnOnTimeOneGoes()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        // MaxQueueWait 0: a late send is turned away (with more time left it would queue again for the next slot).
        var options = new RateLimitOptions { MaxWait = TimeSpan.FromMilliseconds(500), Headroom = 0, MaxQueueWait = TimeSpan.Zero };
        var node = await NodeAsync(options, time, withRedis: false);
        var account = Account(10); // one slot every 100 ms

        Assert.True((await node.Limiter.AcquireAsync(account, Priority.High, Ct)).Granted);
        // The next slot is 100 ms ahead; the node is starved and resumes 150 ms later: 50 ms late.
        var late = node.Limiter.AcquireAsync(account, Priority.High, Ct).AsTask();
        Assert.False(late.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(150));
        var latePermit = await late;
        Assert.False(latePermit.Granted);
        Assert.Equal(TimeSpan.FromMilliseconds(100), latePermit.RetryAfter);

        // The slot after it (100 ms after the unused one) is 50 ms ahead; resuming on time, the send goes.
        var onTime = node.Limiter.AcquireAsync(account, Priority.High, Ct).AsTask();
        Assert.False(onTime.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(50));
        var onTimePermit = await onTime;
        Assert.True(onTimePermit.Granted);
        Assert.Equal(TimeSpan.FromMilliseconds(50), onTimePermit.Waited);

        // Critical sends are never dropped for lateness.
        var critical = node.Limiter.AcquireAsync(account, Priority.Critical, Ct).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.True((await critical).Granted);
    }

    internal sealed class RecordingMetrics : IRateLimitMetrics
    {
        private readonly ConcurrentQueue<(Priority Priority, RateLimitMode Mode, bool Granted)> _permits = new();
        private readonly ConcurrentQueue<RateLimitMode> _modes = new();

        public IReadOnlyList<(Priority Priority, RateLimitMode Mode, bool Granted)> Permits => [.. _permits];

        public IReadOnlyList<RateLimitMode> Modes => [.. _modes];

        public void Permit(Priority priority, RateLimitMode mode, bool granted) => _permits.Enqueue((priority, mode, granted));

        public void ModeChanged(RateLimitMode mode) => _modes.Enqueue(mode);
    }
}
