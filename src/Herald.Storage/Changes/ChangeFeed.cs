using Herald.Redis;
using Microsoft.Extensions.Logging;
using Npgsql;
using StackExchange.Redis;

namespace Herald.Storage;

/// <summary>
/// The <see cref="IChangeFeed"/> of one node: one long-lived PostgreSQL connection that LISTENs on both
/// <see cref="QueueChannel"/> (delivery wake-ups) and <see cref="ChangesChannel"/> (configuration changes), Redis
/// pub/sub when <c>ConnectionStrings:Redis</c> is set, and the in-process path. Without PostgreSQL (SQLite) only the
/// in-process path and Redis remain. The listener reconnects after failures; after a reconnect it wakes the delivery
/// waiters and tells every subscriber that messages may have been lost, since notifications sent meanwhile are gone.
/// </summary>
public sealed partial class ChangeFeed : IChangeFeed, IAsyncDisposable
{
    /// <summary>The PostgreSQL channel that wakes waiting delivery workers.</summary>
    public const string QueueChannel = "herald_queue";

    /// <summary>The PostgreSQL channel of configuration changes.</summary>
    public const string ChangesChannel = "herald_changes";

    /// <summary>The <c>via</c> of a change this node's own store committed.</summary>
    public const string Local = "local";

    /// <summary>The <c>via</c> of a change heard over PostgreSQL LISTEN/NOTIFY.</summary>
    public const string Postgres = "postgres";

    /// <summary>The <c>via</c> of a change heard over Redis pub/sub.</summary>
    public const string Redis = "redis";

    private static readonly RedisChannel RedisChannelName = RedisChannel.Literal("herald:changes");
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly NpgsqlDataSource? _postgres;
    private readonly RedisConnection? _redis;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _redisSubscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<string, IChangeSubscriber[]> _subscribers = new(StringComparer.Ordinal);
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loops;
    private int _disposed;

    /// <param name="postgres">The PostgreSQL store's data source; null with SQLite.</param>
    /// <param name="redis">The optional shared Redis; null or unconfigured when not used.</param>
    public ChangeFeed(NpgsqlDataSource? postgres, RedisConnection? redis, TimeProvider time, ILogger<ChangeFeed> logger)
    {
        _postgres = postgres;
        _redis = redis is { IsConfigured: true } ? redis : null;
        _time = time;
        _logger = logger;
        if (postgres is null)
        {
            _listening.TrySetResult();
        }
    }

    public Task Listening => _listening.Task;

    public Task RedisSubscribed => _redisSubscribed.Task;

    public void Start()
    {
        lock (_lock)
        {
            // A late caller during shutdown (a worker's last wait) gets no listener rather than an exception.
            if (_disposed == 1)
            {
                return;
            }

            _loops ??= Task.Run(() => Task.WhenAll(ListenPostgresAsync(_stop.Token), SubscribeRedisAsync(_stop.Token)), CancellationToken.None);
        }
    }

    public IDisposable Subscribe(IChangeSubscriber subscriber)
    {
        lock (_lock)
        {
            // Copy on write: messages are dispatched without the lock.
            var next = new Dictionary<string, IChangeSubscriber[]>(_subscribers, StringComparer.Ordinal);
            next[subscriber.Kind] = [.. next.GetValueOrDefault(subscriber.Kind) ?? [], subscriber];
            _subscribers = next;
        }

        Start();
        return new Subscription(this, subscriber);
    }

    public async Task PublishAsync(Change change, CancellationToken ct)
    {
        _ = change.Message; // refuses an unsendable change before anything is done
        if (_postgres is not null)
        {
            try
            {
                await using var conn = await _postgres.OpenConnectionAsync(ct);
                await NotifyAsync(conn, change, ct);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogPublishFailed(_logger, change.Kind, Postgres, e);
            }
        }

        await CommittedAsync(change);
    }

    /// <summary>
    /// Save and announce, the one way a PostgreSQL configuration store writes: runs <paramref name="write"/> on one
    /// connection in a transaction, adds the change it reports (null: nothing changed) to that transaction with
    /// pg_notify, together with the request's audit entry (<see cref="AuditScope"/>), commits, then tells this node (<see cref="CommittedAsync"/>). A write that fails or rolls back
    /// announces nothing.
    /// </summary>
    internal async Task<T> WriteAsync<T>(Func<NpgsqlConnection, Task<(T Result, Change? Change)>> write, CancellationToken ct)
    {
        var dataSource = _postgres ?? throw new InvalidOperationException("The change feed has no PostgreSQL data source.");
        (T Result, Change? Change) written;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            written = await write(connection);
            if (written.Change is { } change)
            {
                // The request's act goes into the same transaction: no change without its audit entry.
                // A created resource's id, when the act did not know it yet, is the change's key (a rule-set version).
                await Herald.Storage.Postgres.PostgresAuditStore.AppendPendingAsync(connection, ct, change.Key);
                await NotifyAsync(connection, change, ct);
            }

            await transaction.CommitAsync(ct);
        }

        if (written.Change is { } committed)
        {
            await CommittedAsync(committed);
        }

        return written.Result;
    }

    /// <summary>Sends <paramref name="change"/> with pg_notify on <paramref name="connection"/>, inside the caller's
    /// open transaction: PostgreSQL delivers it to the listeners only if that transaction commits.</summary>
    internal static async Task NotifyAsync(NpgsqlConnection connection, Change change, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_notify($1, $2)", connection);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ChangesChannel });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = change.Message });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>A store committed <paramref name="change"/>: this node's subscribers hear it now (before the store
    /// returns, so the writer's next read on this node sees it), then it is published on Redis. Never throws and takes no
    /// cancellation: the change is stored already (a failure here would make the caller
    /// believe it was lost), and the safety nets converge what a path misses.</summary>
    internal async Task CommittedAsync(Change change)
    {
        await DispatchAsync(change, Local, CancellationToken.None);
        // Not awaited: a slow Redis (timing out rather than down) must not hold the writer's answer back.
        _ = PublishRedisAsync(change);
    }

    /// <summary>Completes on the next <see cref="QueueChannel"/> notification (from any node or process), or after
    /// <paramref name="maxWait"/>.</summary>
    internal async Task WaitForWorkAsync(TimeSpan maxWait, CancellationToken ct)
    {
        Start();
        Task signal;
        lock (_lock)
        {
            signal = _wake.Task;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var timeout = Task.Delay(maxWait, _time, cts.Token);
        // Until LISTEN is in place a notification cannot arrive; wait for that first, within the same deadline.
        await Task.WhenAny(_listening.Task, timeout);
        if (_listening.Task.IsCompleted)
        {
            await Task.WhenAny(signal, timeout);
        }

        await cts.CancelAsync();
        ct.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// Sends the queue wake-up after the data is committed, as its own statement: a transaction that notifies holds a
    /// cluster-wide lock through its commit flush, which would serialise every ingest commit behind one another (a
    /// configuration change is rare enough to pay that; ingest is not). Best effort: the data is already committed,
    /// and workers also poll the next due time.
    /// </summary>
    internal static async Task NotifyWorkAsync(NpgsqlConnection connection)
    {
        try
        {
            await using var cmd = new NpgsqlCommand($"NOTIFY {QueueChannel}", connection);
            await cmd.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (NpgsqlException)
        {
            // Reporting a failure here would make the caller believe a committed write was lost.
        }
    }

    public async ValueTask DisposeAsync()
    {
        // DI may dispose a singleton once per service type it is registered under.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        Task? loops;
        lock (_lock)
        {
            loops = _loops;
        }

        if (loops is not null)
        {
            await loops;
        }

        _stop.Dispose();
    }

    private void Unsubscribe(IChangeSubscriber subscriber)
    {
        lock (_lock)
        {
            if (!_subscribers.TryGetValue(subscriber.Kind, out var current))
            {
                return;
            }

            var next = new Dictionary<string, IChangeSubscriber[]>(_subscribers, StringComparer.Ordinal);
            var left = current.Where(s => !ReferenceEquals(s, subscriber)).ToArray();
            if (left.Length == 0)
            {
                next.Remove(subscriber.Kind);
            }
            else
            {
                next[subscriber.Kind] = left;
            }

            _subscribers = next;
        }
    }

    private void Wake()
    {
        TaskCompletionSource previous;
        lock (_lock)
        {
            previous = _wake;
            _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }

    private async Task PublishRedisAsync(Change change)
    {
        // A Redis that is down is skipped at once; the PostgreSQL path and the safety nets carry the change.
        if (_redis?.Multiplexer is not { IsConnected: true } multiplexer)
        {
            return;
        }

        try
        {
            await multiplexer.GetSubscriber().PublishAsync(RedisChannelName, change.Message);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogPublishFailed(_logger, change.Kind, Redis, e);
        }
    }

    private async Task SubscribeRedisAsync(CancellationToken ct)
    {
        if (_redis is null)
        {
            return;
        }

        // The multiplexer appears once its first connect finishes; it then resubscribes by itself after outages.
        while (_redis.Multiplexer is null)
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
                var queue = await _redis.Multiplexer.GetSubscriber().SubscribeAsync(RedisChannelName);
                queue.OnMessage(message => ReceivedAsync(message.Message.ToString(), Redis, ct));
                _redisSubscribed.TrySetResult();
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                LogListenFailed(_logger, Redis, e);
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
                conn.Notification += (_, e) =>
                {
                    if (e.Channel == QueueChannel)
                    {
                        Wake();
                    }
                    else
                    {
                        _ = ReceivedAsync(e.Payload, Postgres, ct);
                    }
                };
                await using (var listen = new NpgsqlCommand($"LISTEN {QueueChannel}; LISTEN {ChangesChannel}", conn))
                {
                    await listen.ExecuteNonQueryAsync(ct);
                }

                _listening.TrySetResult();
                if (reconnect)
                {
                    // Notifications sent while the connection was down are lost: wake the workers to look for due
                    // work, and let every subscriber catch up.
                    LogReconnected(_logger);
                    Wake();
                    await MessagesLostAsync(ct);
                }

                reconnect = true;
                while (!ct.IsCancellationRequested)
                {
                    // A quiet connection is probed now and then, so a half-open one is noticed.
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
                LogListenFailed(_logger, Postgres, e);
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
                LogApplyFailed(_logger, subscriber.Kind, e);
            }
        }
    }

    private Task ReceivedAsync(string? message, string via, CancellationToken ct) =>
        Change.FromMessage(message) is { } change ? DispatchAsync(change, via, ct) : Task.CompletedTask;

    private async Task DispatchAsync(Change change, string via, CancellationToken ct)
    {
        if (!_subscribers.TryGetValue(change.Kind, out var handlers))
        {
            return;
        }

        foreach (var handler in handlers)
        {
            try
            {
                await handler.OnChangedAsync(change.TenantId, change.Key, via, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The safety net retries; a failed reload must not end the subscription nor fail the writer.
                LogApplyFailed(_logger, change.Kind, e);
            }
        }
    }

    private async Task<bool> DelayAsync(CancellationToken ct)
    {
        try
        {
            // Real time on purpose: a test host's frozen clock must not stop reconnects.
            await Task.Delay(RetryDelay, ct);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 5020, Level = LogLevel.Warning, Message = "Announcing a {Kind} change over {Path} failed; other nodes converge by their safety net")]
    private static partial void LogPublishFailed(ILogger logger, string kind, string path, Exception exception);

    [LoggerMessage(EventId = 5021, Level = LogLevel.Warning, Message = "Listening for changes and queue wake-ups over {Path} failed; retrying")]
    private static partial void LogListenFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 5022, Level = LogLevel.Warning, Message = "Applying an announced {Kind} change failed; the safety net converges")]
    private static partial void LogApplyFailed(ILogger logger, string kind, Exception exception);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Listening for changes and queue wake-ups again")]
    private static partial void LogReconnected(ILogger logger);

    private sealed class Subscription(ChangeFeed feed, IChangeSubscriber subscriber) : IDisposable
    {
        public void Dispose() => feed.Unsubscribe(subscriber);
    }
}
