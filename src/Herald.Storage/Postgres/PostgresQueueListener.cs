using Microsoft.Extensions.Logging;
using Npgsql;

namespace Herald.Storage.Postgres;

/// <summary>
/// One long-lived connection per process that LISTENs on <c>herald_queue</c> and wakes every waiter on each
/// notification. Reconnects after failures; after a reconnect it wakes the waiters, since notifications sent
/// while it was away are lost.
/// </summary>
internal sealed partial class PostgresQueueListener(NpgsqlDataSource dataSource, ILogger logger) : IAsyncDisposable
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private int _disposed;

    /// <summary>Completes on the next notification, or after <paramref name="maxWait"/>.</summary>
    public async Task WaitAsync(TimeSpan maxWait, TimeProvider time, CancellationToken ct)
    {
        Task signal;
        lock (_lock)
        {
            _loop ??= Task.Run(RunAsync, CancellationToken.None);
            signal = _signal.Task;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var timeout = Task.Delay(maxWait, time, cts.Token);
        // Until LISTEN is in place a notification cannot arrive; wait for that first, within the same deadline.
        await Task.WhenAny(_ready.Task, timeout);
        if (_ready.Task.IsCompleted)
        {
            await Task.WhenAny(signal, timeout);
        }

        await cts.CancelAsync();
        ct.ThrowIfCancellationRequested();
    }

    public async ValueTask DisposeAsync()
    {
        // DI may dispose the store once per service type it is registered under.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        Task? loop;
        lock (_lock)
        {
            loop = _loop;
        }

        if (loop is not null)
        {
            await loop;
        }

        _stop.Dispose();
    }

    private void Wake()
    {
        TaskCompletionSource previous;
        lock (_lock)
        {
            previous = _signal;
            _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }

    private async Task RunAsync()
    {
        var ct = _stop.Token;
        var reconnect = false;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var conn = await dataSource.OpenConnectionAsync(ct);
                conn.Notification += (_, _) => Wake();
                await using (var listen = new NpgsqlCommand($"LISTEN {PostgresQueueSignal.Channel}", conn))
                {
                    await listen.ExecuteNonQueryAsync(ct);
                }

                _ready.TrySetResult();
                if (reconnect)
                {
                    LogReconnected(logger);
                    Wake();
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
                LogListenFailed(logger, e);
                try
                {
                    await Task.Delay(ReconnectDelay, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Listening for queue wake-ups failed; reconnecting")]
    private static partial void LogListenFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Listening for queue wake-ups again")]
    private static partial void LogReconnected(ILogger logger);
}
