using Herald.Redis;
using StackExchange.Redis;

namespace Herald.Channels.Providers.RateLimiting;

/// <summary>What one booking call to Redis came back with.</summary>
/// <param name="Decision">The schedule's answer; null when Redis did not answer.</param>
/// <param name="Unreachable">No answer because there is no connection (refused, closed, reconnecting), as opposed to
/// an answer that was merely too slow: the limiter's circuit opens quickly on the former only.</param>
/// <param name="LocalNow">The decision's time on the caller's clock (microseconds of the TimeProvider's timestamp),
/// the earliest it can have been: Redis's own time less the smallest Redis-minus-local offset seen lately, and never
/// earlier than when the call was sent nor later than when its answer came.</param>
public readonly record struct SharedAnswer(GcraDecision? Decision, bool Unreachable, long LocalNow = 0);

/// <summary>The live-node registry as a heartbeat read it.</summary>
/// <param name="Live">Nodes whose heartbeat has not expired (this one included).</param>
/// <param name="Lost">Nodes whose heartbeat expired without their leaving (crashed, or cut off from Redis and possibly
/// sending on their local share) within the last <see cref="RateLimitOptions.LostNodeReserve"/>.</param>
public readonly record struct LiveNodes(int Live, int Lost)
{
    /// <summary>The nodes that may be sending: the live ones and those that may be sending on a local share.</summary>
    public int Total => Live + Lost;
}

/// <summary>
/// The cluster-wide schedules in Redis: one hash per provider account, changed only by an atomic Lua script that
/// reads the time from the Redis server (<c>TIME</c>), so node clocks do not matter. Also the registry of live
/// sending nodes: a sorted set whose scores are each node's expiry (a heartbeat entry with a TTL), and the set of lost
/// nodes (expired without leaving) whose share the others keep free for a while.
/// Every call returns null instead of throwing when Redis does not answer in time.
/// </summary>
public sealed class SharedRateLimiter(RedisConnection redis, TimeProvider time, RateLimitOptions options, RateLimitInstruments? instruments = null)
{
    // Same algorithm as Gcra.Decide. Times in microseconds; Lua numbers are doubles, exact up to 2^53 (year 2255).
    // ARGV[4]: slots wanted (consecutive, within the horizon); ARGV[5]: 1 = a turned-away send takes a virtual slot.
    private const string AcquireScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval = tonumber(ARGV[1])
        local horizon = tonumber(ARGV[2])
        local maxRetry = tonumber(ARGV[3])
        local wanted = tonumber(ARGV[4]) or 1
        local queue = tonumber(ARGV[5]) or 1
        local s = redis.call('HMGET', KEYS[1], 't', 'v')
        local tat = tonumber(s[1]) or 0
        local vtat = tonumber(s[2]) or 0
        if tat < now then tat = now end
        local wait = tat - now
        local granted = 0
        local retry = 0
        if wait <= horizon then
          repeat
            tat = tat + interval
            granted = granted + 1
          until granted >= wanted or tat - now > horizon
          redis.call('HSET', KEYS[1], 't', string.format('%.0f', tat))
        elseif queue == 0 then
          retry = wait - horizon
          wait = 0
        else
          wait = 0
          if vtat < tat then vtat = tat end
          vtat = vtat + interval
          if vtat > now + horizon + maxRetry then vtat = now + horizon + maxRetry end
          redis.call('HSET', KEYS[1], 'v', string.format('%.0f', vtat))
          retry = vtat - now - horizon
          if retry < interval then retry = interval end
        end
        local last = tat
        if vtat > last then last = vtat end
        redis.call('PEXPIRE', KEYS[1], math.floor((last - now) / 1000) + 2000)
        return {granted, wait, retry, now}
        """;

    // KEYS[1] live nodes (score: expiry), KEYS[2] lost nodes (score: end of their reserve). A live entry that expired
    // moves to the lost set (a node that stops removes itself first); a node that announces itself leaves it.
    private const string HeartbeatScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[2])
        local reserve = tonumber(ARGV[3])
        if reserve > 0 then
          for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
            redis.call('ZADD', KEYS[2], now + reserve, m)
          end
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
        redis.call('PEXPIRE', KEYS[1], ttl * 2 + reserve)
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        if reserve > 0 then redis.call('PEXPIRE', KEYS[2], reserve + ttl) end
        return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
        """;

    private readonly RedisKey _nodesKey = options.KeyPrefix + "nodes";
    private readonly RedisKey _lostKey = options.KeyPrefix + "nodes:lost";

    /// <summary>Whether <c>ConnectionStrings:Redis</c> names a server.</summary>
    public bool IsConfigured => redis.IsConfigured;

    /// <summary>Whether the connection to Redis is up (it may still be slow).</summary>
    public bool IsConnected => redis.Multiplexer is { IsConnected: true };

    /// <summary>Books a slot on the account's shared schedule (a turned-away send takes a virtual slot); null when
    /// Redis did not answer within <see cref="RateLimitOptions.RedisTimeout"/>.</summary>
    public async Task<GcraDecision?> DecideAsync(Guid accountId, long interval, long horizon, long maxRetryAfter, CancellationToken ct) =>
        (await BookAsync(accountId, interval, horizon, maxRetryAfter, 1, queue: true, options.RedisTimeout, ct).ConfigureAwait(false)).Decision;

    /// <summary>Books up to <paramref name="slots"/> consecutive slots within <paramref name="horizon"/> on the
    /// account's shared schedule (see <see cref="Gcra.Decide(ref GcraState, long, long, long, long, int, bool)"/>).</summary>
    public async Task<SharedAnswer> BookAsync(Guid accountId, long interval, long horizon, long maxRetryAfter, int slots, bool queue, TimeSpan timeout, CancellationToken ct)
    {
        var sent = LocalNow();
        var (result, unreachable) = await EvaluateAsync(
            "book",
            AcquireScript,
            [options.KeyPrefix + accountId.ToString("N")],
            [interval, horizon, maxRetryAfter, Math.Max(1, slots), queue ? 1 : 0],
            timeout,
            ct).ConfigureAwait(false);
        if (result is null)
        {
            return new SharedAnswer(null, unreachable);
        }

        var answered = LocalNow();
        var values = (RedisResult[])result!;
        var granted = (long)values[0];
        var redisNow = (long)values[3];
        var decision = new GcraDecision(granted > 0, (long)values[1], (long)values[2], redisNow) { Slots = (int)granted };
        return new SharedAnswer(decision, false, Math.Clamp(redisNow - _offset.Sample(redisNow - sent, answered), sent, answered));
    }

    /// <summary>Announces <paramref name="nodeId"/> as live for <see cref="RateLimitOptions.NodeTimeout"/> and
    /// returns the live and lost nodes; null when Redis did not answer.</summary>
    public async Task<LiveNodes?> HeartbeatAsync(string nodeId, CancellationToken ct)
    {
        var (result, _) = await EvaluateAsync(
            "heartbeat",
            HeartbeatScript,
            [_nodesKey, _lostKey],
            [nodeId, (long)options.NodeTimeout.TotalMilliseconds, (long)options.LostNodeReserve.TotalMilliseconds],
            HeartbeatTimeout,
            ct).ConfigureAwait(false);
        if (result is null)
        {
            return null;
        }

        var values = (RedisResult[])result!;
        return new LiveNodes((int)values[0], (int)values[1]);
    }

    /// <summary>Withdraws <paramref name="nodeId"/> (a node stopping), best effort.</summary>
    public async Task LeaveAsync(string nodeId, CancellationToken ct)
    {
        if (redis.Multiplexer is { IsConnected: true } multiplexer)
        {
            try
            {
                await multiplexer.GetDatabase().SortedSetRemoveAsync(_nodesKey, nodeId).WaitAsync(HeartbeatTimeout, time, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // Its entry expires by itself after NodeTimeout (and then counts as lost for a while).
            }
        }
    }

    private readonly ClockOffset _offset = new();

    private TimeSpan HeartbeatTimeout => options.NodeTimeout / 3;

    private long LocalNow() => (long)((Int128)time.GetTimestamp() * 1_000_000 / time.TimestampFrequency);

    /// <summary>
    /// Redis time minus local time, from above: each call's <c>redisNow − sent</c> exceeds the true offset by the
    /// request's way there, so the smallest recent one is the tightest bound. Kept over two rotating 10 s buckets so
    /// that clock drift and steps age out. Mapping a Redis time with it gives the earliest local time it can be.
    /// </summary>
    private sealed class ClockOffset
    {
        private const long Bucket = 10_000_000;
        private readonly Lock _lock = new();
        private long _current = long.MaxValue;
        private long _previous = long.MaxValue;
        private long _started = long.MinValue;

        public long Sample(long offset, long now)
        {
            lock (_lock)
            {
                if (now - _started >= Bucket)
                {
                    (_previous, _current, _started) = (_current, long.MaxValue, now);
                }

                _current = Math.Min(_current, offset);
                return Math.Min(_current, _previous);
            }
        }
    }

    private async Task<(RedisResult? Result, bool Unreachable)> EvaluateAsync(string name, string script, RedisKey[] keys, RedisValue[] values, TimeSpan timeout, CancellationToken ct)
    {
        if (redis.Multiplexer is not { IsConnected: true } multiplexer)
        {
            instruments?.RedisCall(name, "disconnected", 0);
            return (null, true);
        }

        var started = time.GetTimestamp();
        Task<RedisResult>? call = null;
        var outcome = "error";
        try
        {
            call = multiplexer.GetDatabase().ScriptEvaluateAsync(script, keys, values);
            var result = await call.WaitAsync(timeout, time, ct).ConfigureAwait(false);
            outcome = "answered";
            return (result, false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Whatever went wrong (timeout, connection, server error), the caller has a local path. A late answer may
            // still book a slot: that slot goes unused, which errs on the safe side.
            outcome = e switch
            {
                TimeoutException or RedisTimeoutException => "timeout",
                RedisConnectionException => "disconnected",
                _ => "error",
            };
            return (null, outcome == "disconnected" || !multiplexer.IsConnected);
        }
        finally
        {
            instruments?.RedisCall(name, outcome, time.GetElapsedTime(started).TotalMilliseconds);
            if (call is { IsCompleted: false })
            {
                _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }
    }
}
