using Herald.Core.Routing;

namespace Herald.Core.Notifications;

/// <summary>Where a customer can be reached. Every field is optional; the route skips channels without an address.</summary>
public sealed record Contacts(
    string? Phone = null,
    string? TelegramChatId = null,
    string? Email = null,
    string? PushToken = null,
    string? Language = null)
{
    public static readonly Contacts None = new();

    /// <summary>The channel address for <paramref name="channel"/>, or null when the customer has none.</summary>
    public string? AddressFor(Channel channel) => channel switch
    {
        Channel.WhatsApp or Channel.Sms => Phone,
        Channel.Telegram => TelegramChatId,
        Channel.Email => Email,
        Channel.Push => PushToken,
        _ => null,
    };
}

/// <summary>A validated notification as a bank submitted it, before it is stored.</summary>
/// <param name="DataJson">Template variables as a JSON object text; "{}" when absent.</param>
/// <param name="DedupeKey">The Idempotency-Key header, else the externalId; null when neither was given.</param>
public sealed record NewNotification(
    Guid TenantId,
    Guid? SourceId,
    string Type,
    string? CustomerId,
    Contacts Contacts,
    string DataJson,
    Priority? RequestedPriority,
    IReadOnlyList<Channel>? RequestedChannels,
    DateTimeOffset? ExpiresAt,
    string? ExternalId,
    string? DedupeKey)
{
    /// <summary>Reply choices offered to the customer (at most <see cref="ReplyActions.MaxActions"/>); empty: none.</summary>
    public IReadOnlyList<NotificationAction> Actions { get; init; } = [];

    /// <summary>How long the question stays open after acceptance; null: <see cref="ReplyActions.DefaultTtl"/>.</summary>
    public TimeSpan? ReplyTtl { get; init; }

    /// <summary>Herald's own answer to a customer's keyword (issue #16: the STOP confirmation carriers expect): goes
    /// out despite opt-outs. Never set from a bank's request.</summary>
    public bool IgnoresOptOuts { get; init; }

    /// <summary>Until when a reply to this notification, accepted at <paramref name="acceptedAt"/>, is on time; null
    /// when it asks nothing.</summary>
    public DateTimeOffset? ReplyUntil(DateTimeOffset acceptedAt) =>
        Actions.Count == 0 ? null : acceptedAt + (ReplyTtl ?? ReplyActions.DefaultTtl);
}

/// <summary>A stored notification with its route and delivery progress.</summary>
public sealed record Notification
{
    public required Guid Id { get; init; }
    public required Guid TenantId { get; init; }
    public Guid? SourceId { get; init; }
    public required string Type { get; init; }
    public string? CustomerId { get; init; }
    public required Contacts Contacts { get; init; }
    public string DataJson { get; init; } = "{}";
    public required Priority Priority { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public string? ExternalId { get; init; }
    public required Route Route { get; init; }
    public required NotificationStatus Status { get; init; }
    /// <summary>The channel that delivered, once delivered.</summary>
    public Channel? Channel { get; init; }
    public required DeliveryProgress Progress { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Optimistic concurrency token; bumped by every stored change.</summary>
    public int Version { get; init; }

    /// <summary>Reply choices offered to the customer; empty when the notification asks nothing.</summary>
    public IReadOnlyList<NotificationAction> Actions { get; init; } = [];

    /// <summary>Until when a reply counts as on time; null when the notification asks nothing. A later reply is
    /// kept and marked late.</summary>
    public DateTimeOffset? ReplyUntil { get; init; }

    /// <summary>The W3C <c>traceparent</c> its acceptance ran under (docs/OBSERVABILITY.md, Traces): the worker's,
    /// the receipt's and the bank webhook's spans join that trace. Null when neither the bank sent one nor tracing is on.</summary>
    public string? TraceParent { get; init; }
}

/// <summary>Where delivery stands within the route.</summary>
/// <param name="Step">Index of the current step in <see cref="Route.Steps"/>.</param>
/// <param name="Retries">Transient failures so far within the current step.</param>
/// <param name="AwaitedAttemptId">The attempt whose receipt the current step waits for, if any.</param>
public sealed record DeliveryProgress(int Step, int Retries, Guid? AwaitedAttemptId)
{
    public static readonly DeliveryProgress Start = new(0, 0, null);
}

/// <summary>One try on one channel through one provider.</summary>
public sealed record Attempt
{
    public required Guid Id { get; init; }
    public required Guid NotificationId { get; init; }
    public required int Step { get; init; }
    public required Channel Channel { get; init; }
    public Guid? ProviderId { get; init; }
    public string? ProviderName { get; init; }
    public string? ProviderMessageId { get; init; }
    public required AttemptState State { get; init; }
    /// <summary>"transient" or "permanent" when failed.</summary>
    public string? FailureKind { get; init; }
    public string? ErrorCode { get; init; }

    /// <summary>The provider's error text without the contacts vendors echo (<see cref="Delivery.ErrorText"/>).</summary>
    public string? Error { get; init => field = Delivery.ErrorText.Scrub(value); }

    public decimal? Cost { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? SentAt { get; init; }
    public DateTimeOffset? DeliveredAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}
