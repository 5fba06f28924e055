using Herald.Storage.Redis;
using Npgsql;
using StackExchange.Redis;

namespace Herald.Server.Rules;

/// <summary>
/// Tells every node that a tenant's rule set changed, over two independent paths so that either alone suffices:
/// Redis pub/sub (when <c>ConnectionStrings:Redis</c> is set) and PostgreSQL LISTEN/NOTIFY (with the PostgreSQL
/// store). SQLite runs a single node, so the saving node's own cache is all there is. A message names the tenant and
/// the new version; receivers load that version from the store (the message carries no rules), so a duplicate or
/// stale message is harmless and a lost one is caught by <see cref="RuleSetCache"/>'s safety poll.
/// </summary>
public sealed class RuleChangeFanout(RuleSetCache cache, RedisConnection redis, IServiceProvider services, ILogger<RuleChangeFanout> logger)
    : BackgroundService
{
    public const string Channel = "herald_rules";
    private static readonly RedisChannel RedisChannelName = RedisChannel.Literal("herald:rules");
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly NpgsqlDataSource? _postgres = services.GetService<NpgsqlDataSource>();
    private readonly TaskCompletionSource _postgresListening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _redisSubscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once LISTEN is in place (never without PostgreSQL): tests wait on it before changing rules.</summary>
    public Task PostgresListening => _postgresListening.Task;

    /// <summary>Completes once subscribed on Redis (never without Redis).</summary>
    public Task RedisSubscribed => _redisSubscribed.Task;

    /// <summary>Announces a stored change. Best effort on each path: the change is committed already, and the poll
    /// converges a node that hears neither.</summary>
    public Task PublishAsync(Guid tenantId, long version, CancellationToken ct)
    {
        var message = $"{tenantId:D}:{version}";
        // Both paths at once: a Redis that is down must not hold back the PostgreSQL announcement by its timeout.
        return Task.WhenAll(PublishRedisAsync(message), PublishPostgresAsync(message, ct));
    }

    private async Task PublishRedisAsync(string message)
    {
        // A Redis that is down is skipped at once; the PostgreSQL path and the poll carry the change.
        if (redis.Multiplexer is not { IsConnected: true } multiplexer)
        {
            return;
        }

        try
        {
            await multiplexer.GetSubscriber().PublishAsync(RedisChannelName, message);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            logger.RulesPublishFailed("redis", e);
        }
    }

    private async Task PublishPostgresAsync(string message, CancellationToken ct)
    {
        if (_postgres is null)
        {
            return;
        }

        try
        {
            await using var cmd = _postgres.CreateCommand("SELECT pg_notify(@channel, @message)");
            cmd.Parameters.AddWithValue("channel", Channel);
            cmd.Parameters.AddWithValue("message", message);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            logger.RulesPublishFailed("postgres", e);
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(ListenPostgresAsync(stoppingToken), SubscribeRedisAsync(stoppingToken));

    private async Task SubscribeRedisAsync(CancellationToken ct)
    {
        if (!redis.IsConfigured)
        {
            return;
        }

        // The multiplexer appears once its first connect finishes; it then resubscribes by itself after outages.
        while (redis.Multiplexer is null)
        {
            try
            {
                await Task.Delay(RetryDelay, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        while (!ct.IsCancellationRequested)
        {
            try
            {
                var queue = await redis.Multiplexer.GetSubscriber().SubscribeAsync(RedisChannelName);
                queue.OnMessage(message => ReceivedAsync(message.Message.ToString(), "redis", ct));
                _redisSubscribed.TrySetResult();
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                logger.RulesListenFailed("redis", e);
                try
                {
                    await Task.Delay(RetryDelay, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task ListenPostgresAsync(CancellationToken ct)
    {
        if (_postgres is null)
        {
            return;
        }

        var reconnect = false;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var conn = await _postgres.OpenConnectionAsync(ct);
                conn.Notification += (_, e) => _ = ReceivedAsync(e.Payload, "postgres", ct);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", conn))
                {
                    await listen.ExecuteNonQueryAsync(ct);
                }

                _postgresListening.TrySetResult();
                if (reconnect)
                {
                    // Announcements sent while the connection was down are lost: catch up now.
                    await cache.SyncAsync(ct);
                }

                reconnect = true;
                while (!ct.IsCancellationRequested)
                {
                    if (!await conn.WaitAsync(KeepAlive, ct))
                    {
                        await using var ping = new NpgsqlCommand("SELECT 1", conn);
                        await ping.ExecuteNonQueryAsync(ct);
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
            {
                reconnect = true;
                logger.RulesListenFailed("postgres", e);
                try
                {
                    await Task.Delay(RetryDelay, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task ReceivedAsync(string? message, string via, CancellationToken ct)
    {
        var cut = message?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        if (cut < 0 || !Guid.TryParse(message.AsSpan(0, cut), out var tenant) || !long.TryParse(message.AsSpan(cut + 1), out var version))
        {
            return;
        }

        try
        {
            await cache.OnChangedAsync(tenant, version, via, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The poll retries; a failed load must not end the subscription.
            logger.RulesSyncFailed(e);
        }
    }
}
