using System.Threading.Channels;
using Channel = System.Threading.Channels.Channel;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Notifications;

/// <summary>One item's commit outcome: its result, or the exception that kept it out.</summary>
public readonly record struct StoredItem(AcceptResult? Result, Exception? Failure);

/// <summary>
/// Stores planned notifications. Single POSTs are group-committed: concurrent requests share one transaction, so
/// durability costs one commit per batch instead of one per request. Each caller still gets its answer only after
/// the commit that holds its notification. Critical notifications have a lane and a committer of their own, so a
/// flood of other single POSTs (or their slow commits) never holds one back (issue #20). Batches (<see cref="StoreAsync(IReadOnlyList{PreparedNotification}, CancellationToken)"/>) are stored in one transaction of
/// their own.
/// </summary>
public sealed class GroupCommit(
    INotificationStore store,
    TimeProvider time,
    IOptions<IngestOptions> options,
    HeraldMetrics metrics,
    ILogger<GroupCommit> logger) : BackgroundService
{
    private readonly Channel<Pending> _pending = Channel.CreateBounded<Pending>(
        new BoundedChannelOptions(options.Value.MaxCommitBatch * options.Value.Committers * 4) { SingleWriter = false });

    private readonly Channel<Pending> _critical = Channel.CreateBounded<Pending>(
        new BoundedChannelOptions(options.Value.MaxCommitBatch * 4) { SingleWriter = false });

    /// <summary>Queues one notification for the next group commit and answers once that commit is done.</summary>
    public async Task<AcceptResult> CommitAsync(PreparedNotification notification, CancellationToken ct)
    {
        var pending = new Pending(notification, new TaskCompletionSource<AcceptResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        var lane = notification.Route.Priority == Priority.Critical ? _critical : _pending;
        await lane.Writer.WriteAsync(pending, ct);
        // Once queued, the commit proceeds even if this caller goes away: a retry with the same key finds it.
        return await pending.Result.Task.WaitAsync(ct);
    }

    /// <summary>Stores <paramref name="items"/> in one transaction (split in halves when the database refuses one item's
    /// data); per item, its result or its failure.</summary>
    public async Task<StoredItem[]> StoreAsync(IReadOnlyList<PreparedNotification> items, CancellationToken ct)
    {
        var stored = new StoredItem[items.Count];
        await StoreAsync(items, 0, stored, ct);
        return stored;
    }

    /// <summary>The located error for an item the database refused after its group was split down to it.</summary>
    public static InputError Refused(string pointer, Exception e) =>
        new(pointer == "" ? "/" : pointer, $"Storage refuses a value of this notification ({StorageFailures.Code(e)}); nothing of it was stored.");

    /// <summary>
    /// Stores <paramref name="items"/> in one transaction. When the database refuses the group for a data reason (a
    /// value it cannot hold, a constraint), one item's data must not fail the others (issue #13: one tenant's NUL
    /// failed every tenant's notifications in the same group commit): the group is split in halves and each is stored
    /// on its own, down to the single item the database refuses. A failure of the database itself fails the group.
    /// Each item's outcome is written to <paramref name="into"/> from <paramref name="offset"/>.
    /// </summary>
    private async Task StoreAsync(IReadOnlyList<PreparedNotification> items, int offset, StoredItem[] into, CancellationToken ct)
    {
        try
        {
            var results = await store.AcceptAsync(items, time.GetUtcNow(), ct);
            metrics.Accepted(items, results);
            for (var i = 0; i < results.Count; i++)
            {
                into[offset + i] = new StoredItem(results[i], null);
            }
        }
        catch (Exception e) when (StorageFailures.IsCausedByData(e) && items.Count > 1)
        {
            logger.CommitSplit(items.Count, StorageFailures.Code(e));
            var half = items.Count / 2;
            await StoreAsync([.. items.Take(half)], offset, into, ct);
            await StoreAsync([.. items.Skip(half)], offset + half, into, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (StorageFailures.IsCausedByData(e))
            {
                logger.ItemRefused(items[0].Id, StorageFailures.Code(e));
            }

            for (var i = 0; i < items.Count; i++)
            {
                into[offset + i] = new StoredItem(null, e);
            }
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, options.Value.Committers)
            .Select(_ => CommitLoopAsync(_pending.Reader, stoppingToken))
            .Append(CommitLoopAsync(_critical.Reader, stoppingToken)));

    private async Task CommitLoopAsync(ChannelReader<Pending> reader, CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(options.Value.MaxCommitBatch);
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
        var stored = new StoredItem[batch.Count];
        try
        {
            // Not the stopping token: a commit that started finishes, so its callers learn the truth.
            await StoreAsync(batch.ConvertAll(p => p.Notification), 0, stored, CancellationToken.None);
        }
        catch (Exception e)
        {
            Array.Fill(stored, new StoredItem(null, e));
        }

        for (var i = 0; i < batch.Count; i++)
        {
            if (stored[i].Result is { } result)
            {
                batch[i].Result.TrySetResult(result);
            }
            else if (StorageFailures.IsCausedByData(stored[i].Failure!))
            {
                batch[i].Result.TrySetException(new UnstorableNotificationException(Refused("", stored[i].Failure!)));
            }
            else
            {
                if (i == 0 || stored[i - 1].Failure != stored[i].Failure)
                {
                    logger.CommitFailed(batch.Count, stored[i].Failure!);
                }

                batch[i].Result.TrySetException(stored[i].Failure!);
            }
        }
    }

    private sealed record Pending(PreparedNotification Notification, TaskCompletionSource<AcceptResult> Result);
}

/// <summary>The database refused this one notification for its data (after its group commit was split down to it):
/// a 400 for its sender alone; nothing of it was stored.</summary>
public sealed class UnstorableNotificationException(InputError error) : Exception(error.Detail)
{
    public InputError Error { get; } = error;
}
