using Herald.Core.Notifications;

namespace Herald.Storage;

// Outbound status webhooks (SPEC §2: "final state reaches the bank as a signed outbound webhook, retried with
// backoff until acknowledged"). Capture is a transactional outbox filled by the database itself: a trigger on
// notifications records every move into a final state, for tenants that have an enabled endpoint, in the same
// transaction as the state change, whichever code path made it (delivery, cancel, expiry, suppression at ingest).

/// <summary>A tenant's webhook endpoint.</summary>
/// <param name="Secret">The signing secret as stored: encrypted by the caller (the store never sees it in clear).</param>
/// <param name="Statuses">Final statuses to report; empty means every final status.</param>
public sealed record WebhookEndpoint(
    Guid Id,
    Guid TenantId,
    string Url,
    string Secret,
    IReadOnlyList<NotificationStatus> Statuses,
    bool Enabled,
    string? Description,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public enum WebhookDeliveryState : short
{
    /// <summary>Waiting for its next try (or being tried).</summary>
    Pending = 0,
    /// <summary>The endpoint answered 2xx.</summary>
    Succeeded = 1,
    /// <summary>Given up after the retry window; redeliverable by hand.</summary>
    Dead = 2,
}

/// <summary>One event for one endpoint, with its retry state.</summary>
/// <param name="EventId">The event's id, the same for every endpoint it goes to; receivers dedupe on it.</param>
/// <param name="Status">The final status the event reports.</param>
/// <param name="Attempts">Tries so far (a claim counts as a try).</param>
public sealed record WebhookDelivery(
    Guid Id,
    Guid TenantId,
    Guid EndpointId,
    Guid EventId,
    Guid NotificationId,
    NotificationStatus Status,
    DateTimeOffset OccurredAt,
    WebhookDeliveryState State,
    int Attempts,
    DateTimeOffset? NextAttemptAt,
    int? LastStatusCode,
    string? LastError,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>A claimed delivery with what a dispatcher needs to send it.</summary>
/// <param name="Notification">The notification as it is now (for the payload); null if it no longer exists.</param>
public sealed record ClaimedWebhookDelivery(WebhookDelivery Delivery, WebhookEndpoint Endpoint, Notification? Notification)
{
    /// <summary>For an inbound event (<c>notification.reply</c>, <c>customer.message</c>): the stored message; null for a
    /// status event.</summary>
    public CustomerMessage? Message { get; init; }

    /// <summary>For a <c>customer.consent</c> event: the consent ledger entry; null otherwise.</summary>
    public Herald.Core.Customers.ConsentEntry? Consent { get; init; }
}

/// <summary>The status a webhook event is stored with when it reports no notification status (issue #16): the triggers
/// that record inbound and consent events write these values.</summary>
public static class WebhookEventStatus
{
    /// <summary><c>notification.reply</c> or <c>customer.message</c>.</summary>
    public const short Inbound = -1;

    /// <summary><c>customer.consent</c>.</summary>
    public const short Consent = -2;
}

/// <summary>How one try ended.</summary>
/// <param name="NextAttemptAt">For <see cref="WebhookDeliveryState.Pending"/>: when to try again.</param>
/// <param name="Attempt">The try this result is of (the claim's <see cref="WebhookDelivery.Attempts"/>): when given, the
/// result is stored only if no later claim took the delivery over since, so a dispatcher that outlived its lease
/// cannot overwrite the outcome of the try that replaced it.</param>
public sealed record WebhookDeliveryResult(Guid DeliveryId, WebhookDeliveryState State, DateTimeOffset? NextAttemptAt, int? StatusCode, string? Error, int? Attempt = null)
{
    /// <summary>The bank endpoint's error text without contacts (<see cref="Core.Delivery.ErrorText"/>): an endpoint may
    /// echo the event it refused, and the text is stored in plaintext.</summary>
    public string? Error { get; init => field = Core.Delivery.ErrorText.Scrub(value); } = Core.Delivery.ErrorText.Scrub(Error);
}

/// <param name="Before">Keyset cursor: deliveries with an id below this one (ids are time-ordered).</param>
public sealed record WebhookDeliveryQuery(WebhookDeliveryState? State = null, Guid? EndpointId = null, Guid? NotificationId = null, Guid? Before = null, int Limit = 50);

public interface IWebhookStore
{
    Task<WebhookEndpoint> CreateEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct);

    /// <summary>The tenant's endpoints, oldest first.</summary>
    Task<IReadOnlyList<WebhookEndpoint>> ListEndpointsAsync(Guid tenantId, CancellationToken ct);

    Task<WebhookEndpoint?> GetEndpointAsync(Guid tenantId, Guid endpointId, CancellationToken ct);

    /// <summary>Replaces url, secret, statuses, enabled and description; false when the tenant has no such endpoint.</summary>
    Task<bool> UpdateEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct);

    /// <summary>Deletes the endpoint and its deliveries; false when the tenant has no such endpoint.</summary>
    Task<bool> DeleteEndpointAsync(Guid tenantId, Guid endpointId, CancellationToken ct);

    /// <summary>
    /// Turns up to <paramref name="max"/> captured events into one pending delivery per enabled endpoint of the
    /// event's tenant whose statuses match, due at <paramref name="now"/>, and removes the events; one transaction.
    /// Several nodes may call it at once: each event is fanned out exactly once. Returns the number of events taken.
    /// </summary>
    Task<int> FanOutAsync(int max, DateTimeOffset now, CancellationToken ct);

    /// <summary>Claims up to <paramref name="max"/> pending deliveries due at <paramref name="now"/>, oldest due first,
    /// counting a try and leasing each until now + <paramref name="lease"/> (a crashed dispatcher's claims come back).</summary>
    Task<IReadOnlyList<ClaimedWebhookDelivery>> ClaimDeliveriesAsync(int max, TimeSpan lease, DateTimeOffset now, CancellationToken ct);

    /// <summary>Stores how tries ended.</summary>
    Task CompleteDeliveriesAsync(IReadOnlyList<WebhookDeliveryResult> results, DateTimeOffset now, CancellationToken ct);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<WebhookDelivery>> ListDeliveriesAsync(Guid tenantId, WebhookDeliveryQuery query, CancellationToken ct);

    Task<WebhookDelivery?> GetDeliveryAsync(Guid tenantId, Guid deliveryId, CancellationToken ct);

    /// <summary>Makes a delivery pending and due now again (dead-letter redelivery), with a new retry window from
    /// <paramref name="now"/> (its <c>CreatedAt</c>); false when the tenant has no such delivery.</summary>
    Task<bool> RedeliverAsync(Guid tenantId, Guid deliveryId, DateTimeOffset now, CancellationToken ct);

    /// <summary>Redelivers, as <see cref="RedeliverAsync"/>, every dead delivery of the tenant (of one endpoint when
    /// <paramref name="endpointId"/> is given) whose event occurred at or after <paramref name="since"/>; returns how many.</summary>
    Task<int> RedeliverDeadAsync(Guid tenantId, Guid? endpointId, DateTimeOffset? since, DateTimeOffset now, CancellationToken ct);
}
