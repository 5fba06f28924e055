using Herald.Core.Routing;

namespace Herald.Core.Notifications;

/// <summary>A notification ready to store: validated, with an id and the route its rules decided. Made by
/// <see cref="Planning.NotificationPlanner"/>; stored by the notification store.</summary>
public sealed record PreparedNotification(Guid Id, NewNotification Request, Route Route)
{
    /// <summary>A rule's delay (or a digest window's close): the queue entry is first due at this time instead of at once.</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>A rule suppressed it: stored final as <see cref="NotificationStatus.Suppressed"/>, never queued.</summary>
    public bool Suppressed { get; init; }

    /// <summary>The request's <see cref="RequestFingerprint"/>, stored with its dedupe key; a later item with the same
    /// key and another fingerprint is refused as a reused key. Null: not compared.</summary>
#pragma warning disable CA1819 // a hash, compared with SequenceEqual; a record's equality never looks at it
    public byte[]? RequestHash { get; init; }
#pragma warning restore CA1819

    /// <summary>The W3C <c>traceparent</c> to store with it (<see cref="Notification.TraceParent"/>).</summary>
    public string? TraceParent { get; init; }
}
