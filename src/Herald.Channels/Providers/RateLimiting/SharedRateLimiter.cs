using Herald.Storage.Redis;
using StackExchange.Redis;

namespace Herald.Channels.Providers.RateLimiting;

/// <summary>
/// The cluster-wide schedules in Redis: one hash per provider account, changed only by an atomic Lua script that
/// reads the time from the Redis server (<c>TIME</c>), so node clocks do not matter. Also the registry of live
/// sending nodes: a sorted set whose scores are each node's expiry (a heartbeat entry with a TTL).
/// Every call returns null instead of throwing when Redis does not answer within <see cref="RateLimitOptions.RedisTimeout"/>.
/// </summary>
public sealed class SharedRateLimiter(RedisConnection redis, TimeProvider time, RateLimitOptions options)
{
    // Same algorithm as Gcra.Decide. Times in microseconds; Lua numbers are doubles, exact up to 2^53 (year 2255).
    private const string AcquireScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval = tonumber(ARGV[1])
        local horizon = tonumber(ARGV[2])
        local maxRetry = tonumber(ARGV[3])
        local s = redis.call('HMGET', KEYS[1], 't', 'v')
        local tat = tonumber(s[1]) or 0
        local vtat = tonumber(s[2]) or 0
        if tat < now then tat = now end
        local wait = tat - now
        local granted = 0
        local retry = 0
        if wait <= horizon then
          tat = tat + interval
          granted = 1
          redis.call('HSET', KEYS[1], 't', string.format('%.0f', tat))
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

    private const string HeartbeatScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[2])
        redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('PEXPIRE', KEYS[1], ttl * 2)
        return redis.call('ZCARD', KEYS[1])
        """;

    private readonly RedisKey _nodesKey = options.KeyPrefix + "nodes";

    /// <summary>Whether <c>ConnectionStrings:Redis</c> names a server.</summary>
    public bool IsConfigured => redis.IsConfigured;

    /// <summary>Books a slot on the account's shared schedule; null when Redis did not answer in time.</summary>
    public async Task<GcraDecision?> DecideAsync(Guid accountId, long interval, long horizon, long maxRetryAfter, CancellationToken ct)
    {
        var result = await EvaluateAsync(
            AcquireScript,
            [options.KeyPrefix + accountId.ToString("N")],
            [interval, horizon, maxRetryAfter],
            options.RedisTimeout,
            ct).ConfigureAwait(false);
        if (result is null)
        {
            return null;
        }

        var values = (RedisResult[])result!;
        return new GcraDecision((long)values[0] == 1, (long)values[1], (long)values[2], (long)values[3]);
    }

    /// <summary>Announces <paramref name="nodeId"/> as live for <see cref="RateLimitOptions.NodeTimeout"/> and
    /// returns the number of live nodes; null when Redis did not answer.</summary>
    public async Task<int?> HeartbeatAsync(string nodeId, CancellationToken ct)
    {
        var result = await EvaluateAsync(
            HeartbeatScript,
            [_nodesKey],
            [nodeId, (long)options.NodeTimeout.TotalMilliseconds],
            HeartbeatTimeout,
            ct).ConfigureAwait(false);
        return result is null ? null : (int)result;
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
                // Its entry expires by itself after NodeTimeout.
            }
        }
    }

    private TimeSpan HeartbeatTimeout => options.NodeTimeout / 3;

    private async Task<RedisResult?> EvaluateAsync(string script, RedisKey[] keys, RedisValue[] values, TimeSpan timeout, CancellationToken ct)
    {
        if (redis.Multiplexer is not { IsConnected: true } multiplexer)
        {
            return null;
        }

        Task<RedisResult>? call = null;
        try
        {
            call = multiplexer.GetDatabase().ScriptEvaluateAsync(script, keys, values);
            return await call.WaitAsync(timeout, time, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Whatever went wrong (timeout, connection, server error), the caller has a local path. A late answer may
            // still book a slot: that slot goes unused, which errs on the safe side.
            return null;
        }
        finally
        {
            if (call is { IsCompleted: false })
            {
                _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }
    }
}
