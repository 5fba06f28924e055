using System.Data.Common;
using Herald.Channels;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Observability;
using Herald.Storage;

namespace Herald.Server.Delivery;

/// <summary>
/// Applies provider receipts to attempts and notifications (fallback on failure, final on delivery). Receipts for
/// the parts of a multi-part SMS (<see cref="IAttemptPartStore"/>) are first gathered per attempt: the attempt gets a
/// receipt only when every part is delivered, or as soon as one part failed.
/// </summary>
public sealed class ReceiptProcessor(IDeliveryStore store, IAttemptPartStore parts, TimeProvider time, HeraldMetrics metrics, ILogger<ReceiptProcessor> logger)
{
    private const int MaxTries = 5;

    /// <summary>
    /// Applies the receipts of one webhook. Their state changes are stored in one transaction (one commit per
    /// webhook instead of one per receipt); a receipt whose update lost an optimistic-concurrency race, or that
    /// names a notification already changed by an earlier receipt of the same webhook, takes the one-by-one path.
    /// </summary>
    /// <param name="providerId">The account whose signature, token or bind vouched for these receipts. Receipts are
    /// keyed by (account, provider message id) on every path, parked ones included: a receipt only ever reaches an
    /// attempt of this account, so one account's valid signature cannot move another's (another tenant's) messages.</param>
    public async Task ProcessAsync(IEnumerable<ProviderReceipt> receipts, Guid providerId, CancellationToken ct)
    {
        var planned = new List<(PendingReceipt Receipt, Plan Plan)>();
        var notificationIds = new HashSet<Guid>();
        var later = new List<PendingReceipt>();
        var pending = receipts
            .Select(r => new PendingReceipt(providerId, r.ProviderMessageId, r.State, r.ErrorCode, r.Error, r.At))
            .Where(r => r.State != ReceiptState.Sent)
            .ToList();
        // One lookup round trip for the whole webhook instead of one per receipt.
        var found = pending.Count == 0 ? null : await store.FindByProviderMessageIdsAsync(providerId, [.. pending.Select(r => r.ProviderMessageId)], ct);
        foreach (var receipt in pending)
        {
            var plan = await PlanAsync(receipt, found, ct);
            if (plan is null)
            {
                continue;
            }

            if (!notificationIds.Add(plan.Update.NotificationId))
            {
                // Its version is about to change within this batch: plan it again after the batch is stored.
                later.Add(receipt);
                continue;
            }

            planned.Add((receipt, plan));
        }

        if (planned.Count > 0)
        {
            // Rows locked in id order, so two receipt batches cannot deadlock each other.
            planned.Sort((a, b) => a.Plan.Update.NotificationId.CompareTo(b.Plan.Update.NotificationId));
            ApplyResult? result = null;
            try
            {
                result = await store.ApplyAsync([.. planned.Select(p => p.Plan.Update)], time.GetUtcNow(), ct);
            }
            catch (DbException e) when (e.IsTransient)
            {
                // A deadlock with a worker's batch (it locks in claim order): nothing was stored; go one by one.
                logger.ReceiptBatchRetried(planned.Count, e.Message);
            }

            for (var i = 0; i < planned.Count; i++)
            {
                if (result is not null && result.Applied[i])
                {
                    Count(planned[i].Plan);
                }
                else
                {
                    later.Add(planned[i].Receipt);
                }
            }
        }

        foreach (var receipt in later)
        {
            await ProcessAsync(receipt, ct);
        }
    }

    /// <summary>
    /// Receipts from a connector whose messages may have several parts (SMPP): a receipt for a recorded part is stored
    /// on that part, and reaches the attempt only as the whole message's outcome (see <see cref="PartsProgress.Outcome"/>);
    /// other receipts go on as they are. Then as <see cref="ProcessAsync(IEnumerable{ProviderReceipt}, Guid, CancellationToken)"/>.
    /// </summary>
    public async Task ProcessWithPartsAsync(IReadOnlyList<ProviderReceipt> receipts, Guid providerId, CancellationToken ct)
    {
        var resolved = new List<ProviderReceipt>(receipts.Count);
        foreach (var receipt in receipts)
        {
            if (receipt.State == ReceiptState.Sent)
            {
                continue;
            }

            var pending = new PendingReceipt(providerId, receipt.ProviderMessageId, receipt.State, receipt.ErrorCode, receipt.Error, receipt.At);
            if (await parts.ApplyReceiptAsync(pending, ct) is not { } progress)
            {
                resolved.Add(receipt);
            }
            else if (progress.Outcome() is { } whole)
            {
                resolved.Add(new ProviderReceipt(whole.ProviderMessageId, whole.State, whole.ReceivedAt, whole.ErrorCode, whole.Error));
            }
        }

        if (resolved.Count > 0)
        {
            await ProcessAsync(resolved, providerId, ct);
        }
    }

    /// <summary>Records the parts of a multi-part attempt and applies the receipts that arrived before them.</summary>
    public async Task RecordPartsAsync(Guid attemptId, Guid providerId, IReadOnlyList<string> partIds, CancellationToken ct)
    {
        var early = await parts.RecordAsync(attemptId, providerId, partIds, time.GetUtcNow(), ct);
        foreach (var receipt in early)
        {
            await ProcessAsync(receipt, ct);
        }
    }

    /// <summary>One receipt, for an attempt of the account that vouched for it (<see cref="PendingReceipt.ProviderId"/>):
    /// a parked receipt taken back by the sweeper or by the attempt's write keeps its account.</summary>
    public async Task ProcessAsync(PendingReceipt receipt, CancellationToken ct)
    {
        // A "sent" receipt says nothing the provider's acceptance did not already say.
        if (receipt.State == ReceiptState.Sent)
        {
            return;
        }

        // Pending receipts (taken back by the sweeper or by the attempt's write) may be for a part, or the whole
        // message's outcome kept for its first part's id: a final message answers with its outcome again.
        if (await parts.ApplyReceiptAsync(receipt, ct) is { } progress)
        {
            if (progress.Outcome() is not { } whole)
            {
                return;
            }

            receipt = whole;
        }

        for (var tries = 0; tries < MaxTries; tries++)
        {
            var plan = await PlanAsync(receipt, null, ct);
            if (plan is null)
            {
                return;
            }

            var result = await store.ApplyAsync([plan.Update], time.GetUtcNow(), ct);
            if (result.Applied[0])
            {
                Count(plan);
                return;
            }
        }

        logger.ReceiptConflict(receipt.ProviderMessageId, MaxTries);
    }

    /// <summary>The update a receipt calls for, or null when there is nothing to store now.</summary>
    /// <param name="prefetched">The batch's lookups (<see cref="IDeliveryStore.FindByProviderMessageIdsAsync"/>); null looks this one up.</param>
    private async Task<Plan?> PlanAsync(
        PendingReceipt receipt, IReadOnlyDictionary<string, (Notification Notification, Attempt Attempt)>? prefetched, CancellationToken ct)
    {
        (Notification Notification, Attempt Attempt)? found = prefetched is null
            ? await store.FindByProviderMessageIdAsync(receipt.ProviderId, receipt.ProviderMessageId, ct)
            : prefetched.TryGetValue(receipt.ProviderMessageId, out var hit) ? hit : null;
        if (found is not { } target)
        {
            // The provider answered before the worker stored the id; the worker or the sweeper picks it up. Parked
            // with its account: only that account's attempt with this id takes it back.
            await store.SavePendingReceiptAsync(receipt, ct);
            return null;
        }

        var (notification, attempt) = target;
        if (attempt.ProviderId != receipt.ProviderId)
        {
            // The stores look up by account already; kept so no future lookup can hand over another account's attempt.
            return null;
        }

        var now = time.GetUtcNow();
        var updatedAttempt = receipt.State switch
        {
            ReceiptState.Delivered => attempt with { State = AttemptState.Delivered, DeliveredAt = receipt.ReceivedAt, UpdatedAt = now },
            ReceiptState.Read => attempt with { State = AttemptState.Read, DeliveredAt = attempt.DeliveredAt ?? receipt.ReceivedAt, UpdatedAt = now },
            _ => attempt with { State = AttemptState.Failed, FailureKind = "permanent", ErrorCode = receipt.ErrorCode, Error = receipt.Error, UpdatedAt = now },
        };

        var transition = DeliveryStateMachine.OnReceipt(notification, attempt, receipt.State, now);
        if (transition is null)
        {
            if (!notification.Status.IsFinal())
            {
                // A receipt for an attempt the notification has moved past (e.g. failed after its timeout):
                // the timeline already says timed-out, and the queue entry must stay as it is.
                return null;
            }

            transition = new Transition(notification.Status, notification.Progress, notification.Channel, QueueAction.Remove);
        }

        return new Plan(notification.Status, transition, new DeliveryUpdate(notification.Id, notification.Version, transition, [updatedAttempt]))
        {
            Notification = notification,
            Attempt = attempt,
            PlannedAt = now,
            Delivered = receipt.State is ReceiptState.Delivered or ReceiptState.Read,
        };
    }

    private void Count(Plan plan)
    {
        if (plan.Notification is { } before)
        {
            metrics.Transition(before, plan.Update, time.GetUtcNow());
            // The receipt joins the notification's trace (its stored traceparent), whichever node it reached.
            using var span = HeraldTraces.StartIn("herald.receipt", before.TraceParent, start: plan.PlannedAt);
            span?.SetTag(HeraldTraces.Tags.Notification, before.Id);
            span?.SetTag(HeraldTraces.Tags.Attempt, plan.Attempt?.Id);
            span?.SetTag(HeraldTraces.Tags.Status, plan.Transition.Status);
        }

        // Herald's clock on both ends: a vendor's receipt time may be skewed or cut to whole seconds.
        if (plan.Attempt is { SentAt: { } sentAt, DeliveredAt: null } attempt && plan.Delivered)
        {
            metrics.Receipt(attempt.Channel, sentAt, time.GetUtcNow());
        }
        else if (plan.Attempt is { State: not AttemptState.Failed } sent && plan.Update.Attempts is [{ State: AttemptState.Failed } failed])
        {
            metrics.ReceiptFailed(sent.Channel, failed.ErrorCode);
        }

        if (plan.Transition.Status == NotificationStatus.Delivered && !plan.Before.IsFinal())
        {
            metrics.Finished(plan.Transition.Status, plan.Transition.DeliveredChannel);
        }
        else if (plan.Transition.Status.IsFinal() && !plan.Before.IsFinal())
        {
            metrics.Finished(plan.Transition.Status, null);
        }
    }

    private sealed record Plan(NotificationStatus Before, Transition Transition, DeliveryUpdate Update)
    {
        /// <summary>The stored notification and attempt the receipt applies to (for metrics).</summary>
        public Notification? Notification { get; init; }

        public Attempt? Attempt { get; init; }

        /// <summary>The receipt says delivered (or read).</summary>
        public bool Delivered { get; init; }

        /// <summary>When the receipt was planned: the start of its span.</summary>
        public DateTimeOffset PlannedAt { get; init; }
    }
}
