using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Herald.Core.Notifications;
using Herald.Core.Observability;
using Herald.Core.Planning;
using Herald.Core.Rules;
using Herald.Ingest;
using Herald.Server.Consents;
using Herald.Server.Customers;
using Herald.Server.Digests;
using Herald.Storage;

namespace Herald.Server.Notifications;

/// <summary>
/// Accepts notifications: load (the stored customers, the tenant's rule set) → plan (<see cref="NotificationPlanner"/>,
/// pure, the same one the rules dry run uses) → commit (<see cref="GroupCommit"/>). The only extra I/O is the digest
/// window join, paid only by notifications a digest rule applies to. The consent ledger's opt-outs come from the node's
/// in-memory <see cref="ConsentCache"/> (read once per tenant and ledger change, not per notification).
/// </summary>
public sealed class IngestService(
    CustomerCache customers,
    ConsentCache consents,
    IRuleSetSource rules,
    NotificationPlanner planner,
    DigestWindows digests,
    GroupKeys groupKeys,
    GroupCommit commit,
    TimeProvider time)
{
    public async Task<AcceptResult> AcceptAsync(NewNotification notification, CancellationToken ct)
    {
        using var span = StartIngest(notification.TenantId, 1);
        var (prepared, errors) = await PrepareAsync([notification], _ => "", ct);
        if (errors[0] is { } error)
        {
            span.Fail("customer_rejected");
            throw new CustomerRejectedException([error], "The notification cannot be delivered to this customer.");
        }

        span?.SetTag(HeraldTraces.Tags.Notification, prepared[0]!.Id);
        using (HeraldTraces.Source.StartActivity("herald.commit"))
        {
            return await commit.CommitAsync(prepared[0]!, ct);
        }
    }

    /// <summary>Batch ingest: stores the items that can be delivered in one transaction. Per input item, either its
    /// result or the error that kept it out (a customer problem); <paramref name="pointerPrefix"/> locates errors.</summary>
    public async Task<(AcceptResult? Result, InputError? Error)[]> AcceptBatchAsync(
        IReadOnlyList<NewNotification> notifications, Func<int, string> pointerPrefix, CancellationToken ct)
    {
        using var span = StartIngest(notifications.Count > 0 ? notifications[0].TenantId : Guid.Empty, notifications.Count);
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
            StoredItem[] stored;
            using (HeraldTraces.Source.StartActivity("herald.commit"))
            {
                stored = await commit.StoreAsync(keep, ct);
            }

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
                        : (null, GroupCommit.Refused(pointerPrefix(i), s.Failure!));
                }
            }
        }

        return outcome;
    }

    /// <summary>The api's span for one request's notifications; the worker's, the receipt's and the webhook's spans
    /// join its trace through the traceparent stored with each notification.</summary>
    private static Activity? StartIngest(Guid tenantId, int count)
    {
        var span = HeraldTraces.Source.StartActivity("herald.ingest");
        span?.SetTag(HeraldTraces.Tags.Tenant, tenantId);
        span?.SetTag(HeraldTraces.Tags.Count, count);
        return span;
    }

    /// <summary>The located error for an item whose dedupe key an earlier, different request holds.</summary>
    public static InputError KeyReused(string pointer, Guid holder) =>
        new(pointer, $"Already used by notification {holder} for a different request; a repeat must be identical, a new notification needs a new key.");

    private async ValueTask<(PreparedNotification?[] Prepared, InputError?[] Errors)> PrepareAsync(
        IReadOnlyList<NewNotification> notifications, Func<int, string> pointerPrefix, CancellationToken ct)
    {
        // Load: one store read per tenant for all customers the cache misses.
        var stored = await customers.ForAsync([.. notifications.Select(n => (n.TenantId, n.CustomerId))], ct);
        var optOuts = await consents.ForAsync(notifications.Select(static n => n.TenantId), ct);
        var traceParent = HeraldTraces.ToStore(Activity.Current);
        var prepared = new PreparedNotification?[notifications.Count];
        var errors = new InputError?[notifications.Count];
        for (var i = 0; i < notifications.Count; i++)
        {
            var now = time.GetUtcNow();
            var plan = planner.Plan(
                TimeOrderedIds.New(now), notifications[i], stored[i], rules.For(notifications[i].TenantId), now, optOuts[notifications[i].TenantId]);
            if (plan.Error is { } error)
            {
                errors[i] = new InputError(pointerPrefix(i) + error.Pointer, error.Detail);
                continue;
            }

            // Digest and throttle keys can name the customer: hashed before anything stores them (issue #17).
            plan = await groupKeys.SealAsync(plan, ct);
            // Only notifications a digest rule applies to pay for the window's database round trip.
            prepared[i] = plan.Digest is null ? plan.Prepared : await digests.JoinAsync(plan, now, ct);
            if (traceParent is not null)
            {
                prepared[i] = prepared[i]! with { TraceParent = traceParent };
            }
        }

        return (prepared, errors);
    }
}
