using Herald.Core.Delivery;
using Herald.Server.Customers;
using Herald.Server.Digests;
using Herald.Storage;

namespace Herald.Server.Delivery;

/// <summary>The worker's load step: for each claimed notification, what <see cref="DueDecisions.Decide"/> needs and
/// only that — the awaited attempt when its receipt timed out, and for a notification that may be sent its stored
/// customer (quiet hours, composing) and, for a digest member, its window's members.</summary>
public sealed class DeliveryLoader(INotificationStore notifications, CustomerCache customers, DigestWindows digests)
{
    public async Task<DueContext[]> LoadAsync(IReadOnlyList<ClaimedNotification> claimed, IReadOnlyList<StepChoice> choices, CancellationToken ct)
    {
        // One store read per tenant for all the customers the cache misses, only for notifications that may be sent.
        var stored = await customers.ForAsync(
            [.. claimed.Select((c, i) => (c.Notification.TenantId, choices[i].Finish is null ? c.Notification.CustomerId : null))], ct);
        var contexts = new DueContext[claimed.Count];
        for (var i = 0; i < contexts.Length; i++)
        {
            var (n, choice) = (claimed[i].Notification, choices[i]);
            var awaited = choice.TimedOutAttemptId is { } timedOut
                ? (await notifications.GetAttemptsAsync(n.TenantId, n.Id, ct)).FirstOrDefault(a => a.Id == timedOut)
                : null;
            var members = choice.Finish is null ? await digests.MembersAsync(n, ct) : null;
            contexts[i] = new DueContext(n, choice, claimed[i].InFlightAttempts, awaited, stored[i], members);
        }

        return contexts;
    }
}
