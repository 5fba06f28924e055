using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Storage;

namespace Herald.Server.Notifications;

/// <summary>How a cancellation ended.</summary>
public enum CancelOutcome
{
    Cancelled,
    NotFound,
    AlreadyFinal,
    /// <summary>The notification kept changing under the worker for every try.</summary>
    Busy,
}

/// <summary>
/// Cancels one notification as the state machine allows (<see cref="DeliveryStateMachine.OnCancel"/>), stored with its
/// version so a worker's concurrent update wins or loses cleanly; a lost race is read and tried again. The cancel
/// endpoint and erasure (which cancels what is still to be sent) share it.
/// </summary>
public sealed class NotificationCancellation(INotificationStore notifications, IDeliveryStore delivery, TimeProvider time)
{
    /// <summary>The outcome, with the notification as last read (null when not found).</summary>
    public async Task<(CancelOutcome Outcome, Notification? Notification)> CancelAsync(Guid tenantId, Guid id, int maxTries, CancellationToken ct)
    {
        Notification? n = null;
        for (var attempt = 0; attempt < maxTries; attempt++)
        {
            n = await notifications.GetAsync(tenantId, id, ct);
            if (n is null)
            {
                return (CancelOutcome.NotFound, null);
            }

            if (DeliveryStateMachine.OnCancel(n) is not { } transition)
            {
                return (CancelOutcome.AlreadyFinal, n);
            }

            if ((await delivery.ApplyAsync([new DeliveryUpdate(n.Id, n.Version, transition, [])], time.GetUtcNow(), ct)).Applied[0])
            {
                return (CancelOutcome.Cancelled, n);
            }
        }

        return (CancelOutcome.Busy, n);
    }
}
