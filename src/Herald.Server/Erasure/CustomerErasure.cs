using Herald.Core.Customers;
using Herald.Core.Notifications;
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

    /// <summary>Consent ledger entries of the customer whose address is now the redaction marker (the facts stay).</summary>
    public int RedactedConsents { get; init; }
}

/// <summary>
/// Erasure on request (issue #17): cancels what is still to be sent, deletes the stored customer, and redacts the
/// contacts and data of every notification of the target, keeping what proves a notification was sent. Safe to
/// repeat: a second run finds nothing left to change. The data's part is one transaction with the act's audit entry
/// (<see cref="IErasureStore.EraseAsync"/>); the cancellations before it are state changes of their own, as a
/// <c>DELETE /v1/notifications/{id}</c> is.
/// </summary>
public sealed class CustomerErasure(IErasureStore erasure, ICustomerStore customers, NotificationCancellation cancellation)
{
    private const int Batch = 500;

    /// <param name="audit">The act's audit entry, written in the erasure's transaction (nothing of the erased data in it).</param>
    public async Task<ErasureResult> EraseAsync(Guid tenantId, ErasureTarget target, AuditChange audit, CancellationToken ct)
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

        // The stored customer's addresses name its consent ledger entries recorded by keyword (those carry no customer id).
        // The ledger is evidence: the entries stay (who opted out of what, how, when), only the address goes.
        var stored = target.CustomerId is { } storedId ? await customers.GetAsync(tenantId, storedId, ct) : null;
        var erased = await erasure.EraseAsync(tenantId, target, ConsentAddresses(target, stored?.Contacts), audit, ct);
        return new ErasureResult(erased.CustomerDeleted, cancelled, erased.Notifications)
        {
            RedactedMessages = erased.Messages,
            RedactedConsents = erased.Consents,
        };
    }

    /// <summary>The target's addresses as the consent ledger keeps them.</summary>
    private static List<(Channel, string)> ConsentAddresses(ErasureTarget target, Contacts? stored)
    {
        var addresses = new List<(Channel, string)>();
        void Add(Channel channel, string? raw)
        {
            if (ConsentAddress.Normalize(channel, raw) is { } address && !addresses.Contains((channel, address)))
            {
                addresses.Add((channel, address));
            }
        }

        foreach (var phone in new[] { target.Phone, stored?.Phone })
        {
            Add(Channel.Sms, phone);
            Add(Channel.WhatsApp, phone);
        }

        Add(Channel.Email, target.Email);
        Add(Channel.Email, stored?.Email);
        Add(Channel.Telegram, stored?.TelegramChatId);
        Add(Channel.Push, stored?.PushToken);
        return addresses;
    }
}
