using Herald.Channels;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Storage;

namespace Herald.Server.Delivery;

/// <summary>Applies provider receipts to attempts and notifications (fallback on failure, final on delivery).</summary>
public sealed class ReceiptProcessor(IDeliveryStore store, TimeProvider time, HeraldMetrics metrics, ILogger<ReceiptProcessor> logger)
{
    private const int MaxTries = 5;

    /// <param name="providerId">The account whose signature vouched for these receipts: a receipt for another
    /// account's message is ignored, so one account's valid signature cannot move another's messages.</param>
    public async Task ProcessAsync(IEnumerable<ProviderReceipt> receipts, Guid providerId, CancellationToken ct)
    {
        foreach (var receipt in receipts)
        {
            await ProcessAsync(new PendingReceipt(receipt.ProviderMessageId, receipt.State, receipt.ErrorCode, receipt.Error, receipt.At), ct, providerId);
        }
    }

    public async Task ProcessAsync(PendingReceipt receipt, CancellationToken ct, Guid? providerId = null)
    {
        // A "sent" receipt says nothing the provider's acceptance did not already say.
        if (receipt.State == ReceiptState.Sent)
        {
            return;
        }

        for (var tries = 0; tries < MaxTries; tries++)
        {
            var found = await store.FindByProviderMessageIdAsync(receipt.ProviderMessageId, ct);
            if (found is not { } target)
            {
                // The provider answered before the worker stored the id; the worker or the sweeper picks it up.
                await store.SavePendingReceiptAsync(receipt, ct);
                return;
            }

            var (notification, attempt) = target;
            if (providerId is { } vouchedBy && attempt.ProviderId != vouchedBy)
            {
                return;
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
                    return;
                }

                transition = new Transition(notification.Status, notification.Progress, notification.Channel, QueueAction.Remove);
            }

            var result = await store.ApplyAsync([new DeliveryUpdate(notification.Id, notification.Version, transition, [updatedAttempt])], now, ct);
            if (result.Applied[0])
            {
                if (transition.Status == NotificationStatus.Delivered && !notification.Status.IsFinal())
                {
                    metrics.Finished(transition.Status, transition.DeliveredChannel);
                }
                else if (transition.Status.IsFinal() && !notification.Status.IsFinal())
                {
                    metrics.Finished(transition.Status, null);
                }

                return;
            }
        }

        logger.ReceiptConflict(receipt.ProviderMessageId, MaxTries);
    }
}
