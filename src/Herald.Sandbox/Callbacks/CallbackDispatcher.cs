using System.Threading.Channels;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Throttling;

namespace Herald.Sandbox.Callbacks;

/// <summary>A receipt waiting to be POSTed back to Herald, with its delivery bookkeeping.</summary>
public abstract class CallbackItem
{
    /// <summary>Unix milliseconds at which the item is due for delivery.</summary>
    internal long DueMs { get; set; }

    /// <summary>Unix milliseconds of the first delivery attempt, 0 before it.</summary>
    internal long FirstAttemptMs { get; set; }

    internal int Attempts { get; set; }
}

/// <summary>
/// Delivers provider receipts like the vendors do: due-time ordered, up to <c>MaxConcurrentWebhookPosts</c> POSTs in
/// flight, retried with capped exponential backoff and jitter for <c>WebhookRetryWindowSeconds</c>, then dropped and
/// counted. A follow-up (delivered after sent) is only scheduled once its predecessor was acknowledged, so a receiver
/// never sees them out of order. Subclasses say how items are batched and what a POST looks like.
/// </summary>
public abstract class CallbackDispatcher<TItem> : BackgroundService
    where TItem : CallbackItem
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly Channel<TItem> incoming = Channel.CreateUnbounded<TItem>(new UnboundedChannelOptions { SingleReader = true });

    // Owned by the dispatch loop only.
    private readonly PriorityQueue<TItem, long> due = new();

    private readonly WebhookCounters counters;
    private readonly ILogger logger;
    private readonly HttpClient http;

    /// <summary>Creates the dispatcher; <paramref name="counters"/> is where its posts are counted.</summary>
    protected CallbackDispatcher(
        SandboxOptions options,
        SandboxSettings settings,
        WebhookCounters counters,
        TimeProvider time,
        ILogger logger)
    {
        Options = options;
        Settings = settings;
        Time = time;
        this.counters = counters;
        this.logger = logger;
        http = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = options.MaxConcurrentWebhookPosts,
        })
        {
            Timeout = TimeSpan.FromSeconds(15),
        };
    }

    /// <summary>Start-up options.</summary>
    protected SandboxOptions Options { get; }

    /// <summary>Run-time shaping values.</summary>
    protected SandboxSettings Settings { get; }

    /// <summary>The clock.</summary>
    protected TimeProvider Time { get; }

    /// <summary>Most items one POST carries.</summary>
    protected abstract int BatchSize { get; }

    /// <summary>Queues an item for delivery after <paramref name="delayMs"/>; drops and counts it past the pending bound.</summary>
    internal void Schedule(TItem item, long delayMs)
    {
        if (Interlocked.Increment(ref counters.Pending) > Options.MaxPendingWebhookStatuses)
        {
            Interlocked.Decrement(ref counters.Pending);
            Interlocked.Increment(ref counters.StatusesDropped);
            return;
        }

        item.DueMs = NowMs() + delayMs;
        incoming.Writer.TryWrite(item);
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        http.Dispose();
        base.Dispose();
    }

    /// <summary>Whether two due items may share one POST (e.g. the same callback URL).</summary>
    protected virtual bool CanShareBatch(TItem first, TItem next) => true;

    /// <summary>The POST for a batch, or null with <paramref name="failure"/> when it cannot be sent yet.</summary>
    protected abstract HttpRequestMessage? BuildRequest(IReadOnlyList<TItem> batch, out string? failure);

    /// <summary>The item to deliver after <paramref name="item"/> was acknowledged, or null.</summary>
    protected abstract TItem? FollowUp(TItem item, long nowMs, int receiptDelayMs);

    /// <summary>Unix milliseconds now.</summary>
    protected long NowMs() => Time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var slots = new SemaphoreSlim(Options.MaxConcurrentWebhookPosts);
        Task<bool>? waitForNew = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                while (incoming.Reader.TryRead(out var item))
                {
                    due.Enqueue(item, item.DueMs);
                }

                if (!due.TryPeek(out _, out var firstDue))
                {
                    waitForNew ??= incoming.Reader.WaitToReadAsync(stoppingToken).AsTask();
                    await waitForNew.ConfigureAwait(false);
                    waitForNew = null;
                    continue;
                }

                var now = NowMs();
                if (firstDue > now)
                {
                    waitForNew ??= incoming.Reader.WaitToReadAsync(stoppingToken).AsTask();
                    var delay = Task.Delay(TimeSpan.FromMilliseconds(firstDue - now), Time, stoppingToken);
                    await Task.WhenAny(waitForNew, delay).ConfigureAwait(false);
                    if (waitForNew.IsCompleted)
                    {
                        waitForNew = null;
                    }

                    continue;
                }

                await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
                now = NowMs();
                var batchSize = BatchSize;
                var batch = new List<TItem>(Math.Min(batchSize, due.Count)) { due.Dequeue() };
                while (batch.Count < batchSize && due.TryPeek(out var next, out var nextDue) && nextDue <= now && CanShareBatch(batch[0], next))
                {
                    batch.Add(due.Dequeue());
                }

                _ = PostAsync(batch, slots, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: pending receipts are lost with the process, like any in-memory simulator state.
        }
    }

    private async Task PostAsync(List<TItem> batch, SemaphoreSlim slots, CancellationToken cancellationToken)
    {
        var now = NowMs();
        foreach (var item in batch)
        {
            if (item.FirstAttemptMs == 0)
            {
                item.FirstAttemptMs = now;
            }

            item.Attempts++;
        }

        var ok = false;
        string? failure;
        try
        {
            using var request = BuildRequest(batch, out failure);
            if (request is not null)
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken)
                    .ConfigureAwait(false);
                ok = response.IsSuccessStatusCode;
                failure = ok ? null : $"HTTP {(int)response.StatusCode}";
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            failure = ex.Message;
        }
        catch (OperationCanceledException)
        {
            return;
        }
        finally
        {
            slots.Release();
        }

        Interlocked.Add(ref counters.Pending, -batch.Count);
        if (ok)
        {
            Interlocked.Increment(ref counters.Posts);
            Interlocked.Add(ref counters.StatusesDelivered, batch.Count);
            var receiptDelay = Settings.Current.ReceiptDelayMs;
            foreach (var item in batch)
            {
                if (FollowUp(item, NowMs(), receiptDelay) is { } next)
                {
                    Schedule(next, receiptDelay);
                }
            }

            return;
        }

        Interlocked.Increment(ref counters.FailedPosts);
        var retryWindowMs = Options.WebhookRetryWindowSeconds * 1000L;
        CallbackLog.PostFailed(logger, batch.Count, batch[0].Attempts, failure ?? "unknown");
        foreach (var item in batch)
        {
            if (now - item.FirstAttemptMs >= retryWindowMs)
            {
                Interlocked.Increment(ref counters.StatusesDropped);
                continue;
            }

            // 250 ms, 500 ms, 1 s ... capped, with jitter so retries of many batches spread out.
            var backoff = Math.Min(250L << Math.Min(item.Attempts - 1, 16), (long)MaxBackoff.TotalMilliseconds);
            Schedule(item, backoff + Random.Shared.NextInt64(backoff / 4 + 1));
        }
    }
}

internal static partial class CallbackLog
{
    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Sandbox callback POST of {Count} receipts failed (attempt {Attempt}): {Reason}; retrying")]
    public static partial void PostFailed(ILogger logger, int count, int attempt, string reason);
}
