using System.Threading.Channels;
using Channel = System.Threading.Channels.Channel;
using Herald.Core.Notifications;
using IRouter = Herald.Core.Routing.IRouter;
using Herald.Core.Rules;
using Herald.Server.Hosting;
using Herald.Server.Rules;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Notifications;

/// <summary>
/// Routes and stores accepted notifications. Single POSTs are group-committed: concurrent requests share one
/// transaction, so durability costs one commit per batch instead of one per request. Each caller still gets
/// its answer only after the commit that holds its notification.
/// </summary>
public sealed class IngestService(
    INotificationStore store,
    IRouter router,
    TimeProvider time,
    IOptions<IngestOptions> options,
    HeraldMetrics metrics,
    ILogger<IngestService> logger) : BackgroundService
{
    private readonly Channel<Pending> _pending = Channel.CreateBounded<Pending>(
        new BoundedChannelOptions(options.Value.MaxCommitBatch * options.Value.Committers * 4) { SingleWriter = false });

    public async Task<AcceptResult> AcceptAsync(NewNotification notification, CancellationToken ct)
    {
        var pending = new Pending(Prepare(notification), new TaskCompletionSource<AcceptResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        await _pending.Writer.WriteAsync(pending, ct);
        // Once queued, the commit proceeds even if this caller goes away: a retry with the same key finds it.
        return await pending.Result.Task.WaitAsync(ct);
    }

    public async Task<IReadOnlyList<AcceptResult>> AcceptManyAsync(IReadOnlyList<NewNotification> notifications, CancellationToken ct)
    {
        var prepared = new PreparedNotification[notifications.Count];
        for (var i = 0; i < prepared.Length; i++)
        {
            prepared[i] = Prepare(notifications[i]);
        }

        var results = await store.AcceptAsync(prepared, time.GetUtcNow(), ct);
        metrics.Accepted(results);
        return results;
    }

    private PreparedNotification Prepare(NewNotification notification)
    {
        var now = time.GetUtcNow();
        var id = Guid.CreateVersion7(now);
        if (router is not RuleRouter rules)
        {
            return new PreparedNotification(id, notification, router.Decide(notification));
        }

        // ---- Rules (issue #4). The customers feature resolves the stored customer record here and passes it as
        // RuleContext.Customer; until then rules see inline contacts only (customer.<key> paths are missing). ----
        var context = new RuleContext(notification, Customer: null, now);
        return RuleIngest.Prepare(id, notification, rules.DecideAll(context), now);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, options.Value.Committers).Select(_ => CommitLoopAsync(stoppingToken)));

    private async Task CommitLoopAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(options.Value.MaxCommitBatch);
        var reader = _pending.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < options.Value.MaxCommitBatch && reader.TryRead(out var item))
                {
                    batch.Add(item);
                }

                await CommitAsync(batch);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: requests still queued get an error, nothing half-committed is acknowledged.
            while (reader.TryRead(out var item))
            {
                item.Result.TrySetException(new OperationCanceledException("Herald is shutting down."));
            }
        }
    }

    private async Task CommitAsync(List<Pending> batch)
    {
        try
        {
            // Not the stopping token: a commit that started finishes, so its callers learn the truth.
            var results = await store.AcceptAsync(batch.ConvertAll(p => p.Notification), time.GetUtcNow(), CancellationToken.None);
            metrics.Accepted(results);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Result.TrySetResult(results[i]);
            }
        }
        catch (Exception e)
        {
            logger.CommitFailed(batch.Count, e);
            foreach (var item in batch)
            {
                item.Result.TrySetException(e);
            }
        }
    }

    private sealed record Pending(PreparedNotification Notification, TaskCompletionSource<AcceptResult> Result);
}
