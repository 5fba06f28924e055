using Herald.Redis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using StackExchange.Redis;

namespace Herald.Server.Changes;

/// <summary>The kinds of change announced over <see cref="ChangeFanout"/>.</summary>
public static class ChangeKinds
{
    /// <summary>A tenant stored a new rule-set version; the key is the version number.</summary>
    public const string Rules = "rules";

    /// <summary>A stored customer was created, changed or deleted; the key is the customer id.</summary>
    public const string Customer = "customer";

    /// <summary>A tenant's templates were saved or deleted; the key is "*".</summary>
    public const string Templates = "templates";

    /// <summary>Provider accounts were created, changed or deleted; the key is the account id, or "*" for several.</summary>
    public const string Providers = "providers";

    /// <summary>An operator reset a provider account's circuit; the key is the account id.</summary>
    public const string ProviderReset = "provider-reset";
}

/// <summary>Something a node keeps in memory that another node's change can make stale.</summary>
public interface IChangeSubscriber
{
    /// <summary>The <see cref="ChangeKinds"/> value this subscriber handles.</summary>
    string Kind { get; }

    /// <summary>Another node (or this one) changed <paramref name="key"/> of <paramref name="tenantId"/>. Messages can
    /// arrive twice (once per path) and out of order: handlers reload or forget rather than apply a payload.</summary>
    /// <param name="via">"redis" or "postgres": which path brought the message.</param>
    Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct);

    /// <summary>Messages may have been lost (the PostgreSQL listener was down): converge now.</summary>
    Task OnMessagesLostAsync(CancellationToken ct);
}

/// <summary>
/// One change-notification channel for every node: a message names a kind, a tenant and a key
/// (<c>kind:tenant:key</c>) and carries no data, so receivers reload from the store or drop a cache entry, and a
/// duplicate or stale message is harmless. It travels over two independent paths so that either alone suffices: Redis
/// pub/sub (when <c>ConnectionStrings:Redis</c> is set) and PostgreSQL LISTEN/NOTIFY (with the PostgreSQL store).
/// SQLite runs a single node, so the changing node's own update is all there is. What both paths lose is caught by
/// each subscriber's own safety net (the rules' poll, the customer cache's TTL).
/// </summary>
public sealed class ChangeFanout(
    RedisConnection redis, IEnumerable<IChangeSubscriber> subscribers, IServiceProvider services, ILogger<ChangeFanout> logger)
    : BackgroundService
{
    /// <summary>The PostgreSQL NOTIFY channel.</summary>
    public const string Channel = "herald_changes";

    /// <summary>pg_notify refuses payloads of 8,000 bytes or more; keys are ids, far below.</summary>
    public const int MaxKeyLength = 1024;

    private static readonly RedisChannel RedisChannelName = RedisChannel.Literal("herald:changes");
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, IChangeSubscriber[]> _subscribers = subscribers
        .GroupBy(s => s.Kind, StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);

    private readonly NpgsqlDataSource? _postgres = services.GetService<NpgsqlDataSource>();
    private readonly TaskCompletionSource _postgresListening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _redisSubscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once LISTEN is in place (never without PostgreSQL): tests wait on it before changing things.</summary>
    public Task PostgresListening => _postgresListening.Task;

    /// <summary>Completes once subscribed on Redis (never without Redis).</summary>
    public Task RedisSubscribed => _redisSubscribed.Task;

    /// <summary>Announces a committed change. Best effort on each path: the change is stored already, and each
    /// subscriber's safety net converges a node that hears neither. Callers need not await it.</summary>
    public Task PublishAsync(string kind, Guid tenantId, string key, CancellationToken ct)
    {
        if (kind.Contains(':', StringComparison.Ordinal) || key.Length > MaxKeyLength)
        {
            throw new ArgumentException($"A change kind has no ':' and a key at most {MaxKeyLength} characters.", nameof(key));
        }

        var message = $"{kind}:{tenantId:D}:{key}";
        // Both paths at once: a Redis that is down must not hold back the PostgreSQL announcement by its timeout.
        return Task.WhenAll(PublishRedisAsync(message, kind), PublishPostgresAsync(message, kind, ct));
    }

    private async Task PublishRedisAsync(string message, string kind)
    {
        // A Redis that is down is skipped at once; the PostgreSQL path and the safety nets carry the change.
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
            logger.ChangePublishFailed(kind, "redis", e);
        }
    }

    private async Task PublishPostgresAsync(string message, string kind, CancellationToken ct)
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
            logger.ChangePublishFailed(kind, "postgres", e);
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
            if (!await DelayAsync(ct))
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
                logger.ChangeListenFailed("redis", e);
                if (!await DelayAsync(ct))
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
                    // Announcements sent while the connection was down are lost: every subscriber catches up now.
                    await MessagesLostAsync(ct);
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
                logger.ChangeListenFailed("postgres", e);
                if (!await DelayAsync(ct))
                {
                    return;
                }
            }
        }
    }

    private async Task MessagesLostAsync(CancellationToken ct)
    {
        foreach (var subscriber in _subscribers.Values.SelectMany(s => s))
        {
            try
            {
                await subscriber.OnMessagesLostAsync(ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.ChangeApplyFailed(subscriber.Kind, e);
            }
        }
    }

    /// <summary>Parses <c>kind:tenant:key</c>; false for anything else (a foreign or malformed message).</summary>
    /// <remarks>Not named TryParse: minimal APIs would then try to bind endpoint parameters of this type from the
    /// request instead of taking the service.</remarks>
    public static bool TryParseMessage(string? message, out string kind, out Guid tenantId, out string key)
    {
        kind = key = "";
        tenantId = Guid.Empty;
        var cut = message?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        // kind ":" 36-character tenant ":" key
        if (cut <= 0 || message!.Length < cut + 38 || message[cut + 37] != ':'
            || !Guid.TryParseExact(message.AsSpan(cut + 1, 36), "D", out tenantId))
        {
            return false;
        }

        kind = message[..cut];
        key = message[(cut + 38)..];
        return true;
    }

    private async Task ReceivedAsync(string? message, string via, CancellationToken ct)
    {
        if (!TryParseMessage(message, out var kind, out var tenant, out var key) || !_subscribers.TryGetValue(kind, out var handlers))
        {
            return;
        }

        foreach (var handler in handlers)
        {
            try
            {
                await handler.OnChangedAsync(tenant, key, via, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The safety net retries; a failed reload must not end the subscription.
                logger.ChangeApplyFailed(kind, e);
            }
        }
    }

    private static async Task<bool> DelayAsync(CancellationToken ct)
    {
        try
        {
            await Task.Delay(RetryDelay, ct);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

public static class ChangeFanoutServiceCollectionExtensions
{
    /// <summary>Registers the one <see cref="ChangeFanout"/> of the node (every feature that announces or hears changes
    /// calls this; the first call registers it). Subscribers register as <see cref="IChangeSubscriber"/>.</summary>
    public static IServiceCollection AddChangeFanout(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(ChangeFanout)))
        {
            return services;
        }

        services.TryAddSingleton<ChangeFanout>();
        services.AddHostedService(sp => sp.GetRequiredService<ChangeFanout>());
        return services;
    }
}

/// <summary>Change fan-out log messages (event ids 5020-5029). Kinds and paths only: never keys (customer ids).</summary>
internal static partial class ChangesLog
{
    [LoggerMessage(5020, LogLevel.Warning, "Announcing a {Kind} change over {Path} failed; other nodes converge by their safety net")]
    public static partial void ChangePublishFailed(this ILogger logger, string kind, string path, Exception exception);

    [LoggerMessage(5021, LogLevel.Warning, "Listening for changes over {Path} failed; retrying")]
    public static partial void ChangeListenFailed(this ILogger logger, string path, Exception exception);

    [LoggerMessage(5022, LogLevel.Warning, "Applying an announced {Kind} change failed; the safety net converges")]
    public static partial void ChangeApplyFailed(this ILogger logger, string kind, Exception exception);
}
