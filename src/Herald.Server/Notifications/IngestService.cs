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
            var results = await store.AcceptAsync(keep, time.GetUtcNow(), ct);
            metrics.Accepted(results);
            var next = 0;
            for (var i = 0; i < outcome.Length; i++)
            {
                if (prepared[i] is not null)
                {
                    outcome[i] = (results[next++], null);
                }
            }
        }

        return outcome;
    }

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
