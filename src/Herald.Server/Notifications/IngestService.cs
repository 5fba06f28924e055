using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Channel = System.Threading.Channels.Channel;
using Herald.Core.Notifications;
using IRouter = Herald.Core.Routing.IRouter;
using Herald.Core.Customers;
using Herald.Core.Rules;
using Herald.Ingest;
using Herald.Server.Customers;
using Herald.Server.Hosting;
using Herald.Server.Digests;
using Herald.Server.Rules;
using Herald.Server.Throttling;
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
    CustomerResolver customers,
    IDigestStore digests,
    ILogger<IngestService> logger) : BackgroundService
{
    private readonly Channel<Pending> _pending = Channel.CreateBounded<Pending>(
        new BoundedChannelOptions(options.Value.MaxCommitBatch * options.Value.Committers * 4) { SingleWriter = false });

    public async Task<AcceptResult> AcceptAsync(NewNotification notification, CancellationToken ct)
    {
        var (prepared, errors) = await PrepareAsync([notification], _ => "", ct);
        if (errors[0] is { } error)
        {
            throw new CustomerRejectedException([error], "The notification cannot be delivered to this customer.");
        }

        var pending = new Pending(prepared[0]!, new TaskCompletionSource<AcceptResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        await _pending.Writer.WriteAsync(pending, ct);
        // Once queued, the commit proceeds even if this caller goes away: a retry with the same key finds it.
        return await pending.Result.Task.WaitAsync(ct);
    }

    /// <summary>Batch ingest: stores the items that can be delivered in one transaction. Per input item, either its
    /// result or the error that kept it out (a customer problem); <paramref name="pointerPrefix"/> locates errors.</summary>
    public async Task<(AcceptResult? Result, InputError? Error)[]> AcceptBatchAsync(
        IReadOnlyList<NewNotification> notifications, Func<int, string> pointerPrefix, CancellationToken ct)
    {
        var (prepared, errors) = await PrepareAsync(notifications, pointerPrefix, ct);
        var outcome = new (AcceptResult? Result, InputError? Error)[notifications.Count];
        var keep = new List<PreparedNotification>(notifications.Count);
        for (var i = 0; i < outcome.Length; i++)
        {
            if (prepared[i] is { } p)
            {
                keep.Add(p);
            }
            else
            {
                outcome[i] = (null, errors[i]);
            }
        }

        if (keep.Count > 0)
        {
            var stored = new Stored[keep.Count];
            await StoreAsync(keep, 0, stored, ct);
            if (stored.FirstOrDefault(s => s.Failure is not null && !StorageFailures.IsCausedByData(s.Failure)).Failure is { } outage)
            {
                // The database itself failed (not one item's data): nothing of this batch is acknowledged.
                ExceptionDispatchInfo.Throw(outage);
            }

            var next = 0;
            for (var i = 0; i < outcome.Length; i++)
            {
                if (prepared[i] is not null)
                {
                    var s = stored[next++];
                    outcome[i] = s.Result is { Mismatch: true } m ? (null, KeyReused(pointerPrefix(i) + "/externalId", m.Id))
                        : s.Result is { } r ? (r, null)
                        : (null, Refused(pointerPrefix(i), s.Failure!));
                }
            }
        }

        return outcome;
    }

    /// <summary>
    /// Stores <paramref name="items"/> in one transaction. When the database refuses the group for a data reason (a
    /// value it cannot hold, a constraint), one item's data must not fail the others (issue #13: one tenant's NUL
    /// failed every tenant's notifications in the same group commit): the group is split in halves and each is stored
    /// on its own, down to the single item the database refuses. A failure of the database itself fails the group.
    /// Each item's outcome is written to <paramref name="into"/> from <paramref name="offset"/>.
    /// </summary>
    private async Task StoreAsync(IReadOnlyList<PreparedNotification> items, int offset, Stored[] into, CancellationToken ct)
    {
        try
        {
            var results = await store.AcceptAsync(items, time.GetUtcNow(), ct);
            metrics.Accepted(results);
            for (var i = 0; i < results.Count; i++)
            {
                into[offset + i] = new Stored(results[i], null);
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
                into[offset + i] = new Stored(null, e);
            }
        }
    }

    /// <summary>The located error for an item whose dedupe key an earlier, different request holds.</summary>
    public static InputError KeyReused(string pointer, Guid holder) =>
        new(pointer, $"Already used by notification {holder} for a different request; a repeat must be identical, a new notification needs a new key.");

    /// <summary>The located error for an item the database refused after its group was split down to it.</summary>
    private static InputError Refused(string pointer, Exception e) =>
        new(pointer == "" ? "/" : pointer, $"Storage refuses a value of this notification ({StorageFailures.Code(e)}); nothing of it was stored.");

    // Where stored customers, rules and preferences meet: the customer record is resolved first (contacts, and the
    // fields rules see), the tenant's rules decide (route, suppress, delay, ttl, masks), then the customer's
    // preferences (opt-outs, preferred channel) shape the plan. A customer opted out of every channel of the plan gets
    // the notification stored as suppressed: the bank sees it, nobody is contacted.
    private async ValueTask<(PreparedNotification?[] Prepared, InputError?[] Errors)> PrepareAsync(
        IReadOnlyList<NewNotification> notifications, Func<int, string> pointerPrefix, CancellationToken ct)
    {
        var resolved = await customers.ResolveAsync(notifications, pointerPrefix, ct);
        var prepared = new PreparedNotification?[resolved.Length];
        var errors = new InputError?[resolved.Length];
        for (var i = 0; i < resolved.Length; i++)
        {
            var r = resolved[i];
            if (r.Error is not null)
            {
                errors[i] = r.Error;
                continue;
            }

            var now = time.GetUtcNow();
            var id = Guid.CreateVersion7(now);
            var outcome = router is RuleRouter rules
                ? rules.DecideAll(new RuleContext(r.Notification, r.Customer is { } c ? CustomerPreferences.RuleFields(c) : null, now))
                : null;
            var decided = outcome is not null
                ? RuleIngest.Prepare(id, r.Notification, outcome, now)
                : new PreparedNotification(id, r.Notification, router.Decide(r.Notification));
            var route = customers.Shape(decided.Route, decided.Request, r.Customer, outcome?.OptOuts);
            var optedOutOfAll = decided.Route.Steps.Count > 0 && route.Steps.Count == 0;
            prepared[i] = decided with { Route = route, Suppressed = decided.Suppressed || optedOutOfAll };
            // Only notifications a digest rule applies to pay for the window's database round trip.
            if (outcome?.Digest is { } digest && !prepared[i]!.Suppressed)
            {
                prepared[i] = await DigestWindows.JoinAsync(digests, prepared[i]!, digest, now, ct);
            }

            // Throttle: no round trip here; the group goes into the route and the worker admits or suppresses it at send.
            if (outcome?.Throttle is { } throttle && !prepared[i]!.Suppressed)
            {
                prepared[i] = Throttles.Join(prepared[i]!, throttle);
            }

            // The fingerprint of the request as sent (before the stored customer filled in its contacts), kept with its key.
            if (notifications[i].DedupeKey is not null)
            {
                prepared[i] = prepared[i]! with { RequestHash = RequestFingerprint.Of(notifications[i]) };
            }
        }

        return (prepared, errors);
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
        var stored = new Stored[batch.Count];
        try
        {
            // Not the stopping token: a commit that started finishes, so its callers learn the truth.
            await StoreAsync(batch.ConvertAll(p => p.Notification), 0, stored, CancellationToken.None);
        }
        catch (Exception e)
        {
            Array.Fill(stored, new Stored(null, e));
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

    private readonly record struct Stored(AcceptResult? Result, Exception? Failure);
}

/// <summary>The database refused this one notification for its data (after its group commit was split down to it):
/// a 400 for its sender alone; nothing of it was stored.</summary>
public sealed class UnstorableNotificationException(InputError error) : Exception(error.Detail)
{
    public InputError Error { get; } = error;
}
