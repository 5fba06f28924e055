using Herald.Server.Notifications;
using Herald.Storage;

namespace Herald.Server.Erasure;

/// <summary>What an erasure did.</summary>
/// <param name="CustomerDeleted">The stored customer was there and is gone.</param>
/// <param name="Cancelled">Notifications that were still to be sent, cancelled first.</param>
/// <param name="Redacted">Notifications whose contacts and data are now the redaction marker.</param>
public sealed record ErasureResult(bool CustomerDeleted, int Cancelled, int Redacted)
{
    /// <summary>Replies and messages the customer sent in (two-way), now without text or address.</summary>
    public int RedactedMessages { get; init; }
}

/// <summary>
/// Erasure on request (issue #17): cancels what is still to be sent, deletes the stored customer, and redacts the
/// contacts and data of every notification of the target, keeping what proves a notification was sent. Safe to
/// repeat: a second run finds nothing left to change.
/// </summary>
public sealed class CustomerErasure(IErasureStore erasure, ICustomerStore customers, NotificationCancellation cancellation)
{
    private const int Batch = 500;

    public async Task<ErasureResult> EraseAsync(Guid tenantId, ErasureTarget target, CancellationToken ct)
    {
        // First what may still go out: a send after the redaction would need the contacts it no longer has.
        var cancelled = 0;
        IReadOnlyList<Guid> inFlight;
        var seen = new HashSet<Guid>();
        while ((inFlight = await erasure.InFlightAsync(tenantId, target, Batch, ct)).Any(seen.Add))
        {
            foreach (var id in inFlight)
            {
                cancelled += (await cancellation.CancelAsync(tenantId, id, maxTries: 10, ct)).Outcome == CancelOutcome.Cancelled ? 1 : 0;
            }
        }

        var deleted = target.CustomerId is { } customerId && await customers.DeleteAsync(tenantId, customerId, ct);
        var redacted = 0;
        Guid? after = null;
        int count;
        do
        {
            (count, var last) = await erasure.RedactAsync(tenantId, target, after, Batch, ct);
            redacted += count;
            after = last ?? after;
        }
        while (count == Batch);

        // What the customer sent in, after its notifications: the answers to them are found through them.
        var messages = await erasure.RedactMessagesAsync(tenantId, target, ct);
        return new ErasureResult(deleted, cancelled, redacted) { RedactedMessages = messages };
    }
}
