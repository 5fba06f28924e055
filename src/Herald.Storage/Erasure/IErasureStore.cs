using Herald.Core.Notifications;

namespace Herald.Storage;

/// <summary>What <see cref="IErasureStore.EraseAsync"/> changed.</summary>
public sealed record ErasureCounts(bool CustomerDeleted, int Notifications, int Messages, int Consents);

/// <summary>Whose data an erasure removes: a stored customer's notifications by its id, or notifications sent with
/// inline contacts by phone (E.164) or email. At least one is set.</summary>
public sealed record ErasureTarget(string? CustomerId, string? Phone, string? Email);

/// <summary>
/// Erasure on request (issue #17, docs/SECURITY.md "Erasure"): a customer's notifications keep their ids, types,
/// states, timings, costs and attempt metadata, so the bank can still prove a message was sent; every contact and
/// every <c>data</c> value becomes <see cref="Marker"/>.
/// </summary>
public interface IErasureStore
{
    public const string Marker = "[erased]";

    /// <summary>Up to <paramref name="max"/> of the tenant's notifications of the target that are not final yet
    /// (to cancel before redacting).</summary>
    Task<IReadOnlyList<Guid>> InFlightAsync(Guid tenantId, ErasureTarget target, int max, CancellationToken ct);

    /// <summary>Redacts what the target's customer sent in (two-way replies and messages): text and sender become
    /// the marker; answers how many.</summary>
    Task<int> RedactMessagesAsync(Guid tenantId, ErasureTarget target, CancellationToken ct);

    /// <summary>Redacts up to <paramref name="batch"/> of the tenant's notifications of the target with ids above
    /// <paramref name="after"/>, in id order; answers how many and the last id (the next call's <c>after</c>).</summary>
    Task<(int Redacted, Guid? Last)> RedactAsync(Guid tenantId, ErasureTarget target, Guid? after, int batch, CancellationToken ct);

    /// <summary>
    /// The erasure's data and its audit entry in one transaction (issue #17: no change without its entry, and no entry for
    /// an erasure that did not happen): deletes the stored customer (<see cref="ErasureTarget.CustomerId"/>), redacts every
    /// notification of the target (<see cref="RedactAsync"/>), what the customer sent in (<see cref="RedactMessagesAsync"/>)
    /// and the consent ledger's entries of the customer and of <paramref name="consentAddresses"/>
    /// (<see cref="IConsentStore.RedactAsync"/>), then appends <paramref name="audit"/>. If any of it fails, nothing changed.
    /// The customer's and the ledger's changes are announced after the commit.
    /// </summary>
    Task<ErasureCounts> EraseAsync(
        Guid tenantId, ErasureTarget target, IReadOnlyList<(Channel Channel, string Address)> consentAddresses, AuditChange audit, CancellationToken ct);
}
