using System.Text.Json.Serialization;

namespace Herald.Core.Notifications;

/// <summary>Dispatch lane. Lower value is served first; values are stored, do not renumber.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Priority>))]
public enum Priority : short
{
    [JsonStringEnumMemberName("critical")] Critical = 0,
    [JsonStringEnumMemberName("high")] High = 1,
    [JsonStringEnumMemberName("normal")] Normal = 2,
    [JsonStringEnumMemberName("low")] Low = 3,
}

/// <summary>A delivery channel. Values are stored, do not renumber.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Channel>))]
public enum Channel : short
{
    [JsonStringEnumMemberName("whatsapp")] WhatsApp = 0,
    [JsonStringEnumMemberName("telegram")] Telegram = 1,
    [JsonStringEnumMemberName("sms")] Sms = 2,
    [JsonStringEnumMemberName("email")] Email = 3,
    [JsonStringEnumMemberName("push")] Push = 4,
}

/// <summary>Notification lifecycle (SPEC §1). Values are stored, do not renumber.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<NotificationStatus>))]
public enum NotificationStatus : short
{
    [JsonStringEnumMemberName("accepted")] Accepted = 0,
    [JsonStringEnumMemberName("routed")] Routed = 1,
    [JsonStringEnumMemberName("sending")] Sending = 2,
    [JsonStringEnumMemberName("delivered")] Delivered = 3,
    [JsonStringEnumMemberName("failed")] Failed = 4,
    [JsonStringEnumMemberName("expired")] Expired = 5,
    [JsonStringEnumMemberName("suppressed")] Suppressed = 6,
    [JsonStringEnumMemberName("cancelled")] Cancelled = 7,
}

/// <summary>State of one try on one channel through one provider. Values are stored, do not renumber.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AttemptState>))]
public enum AttemptState : short
{
    [JsonStringEnumMemberName("sending")] Sending = 0,
    [JsonStringEnumMemberName("sent")] Sent = 1,
    [JsonStringEnumMemberName("delivered")] Delivered = 2,
    [JsonStringEnumMemberName("read")] Read = 3,
    [JsonStringEnumMemberName("failed")] Failed = 4,
    [JsonStringEnumMemberName("timed-out")] TimedOut = 5,
}

/// <summary>How far a channel step must get before the notification counts as delivered.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<WaitFor>))]
public enum WaitFor : short
{
    /// <summary>The provider accepted the message.</summary>
    [JsonStringEnumMemberName("sent")] Sent = 0,
    /// <summary>A delivery receipt arrived.</summary>
    [JsonStringEnumMemberName("delivered")] Delivered = 1,
}

public static class NotificationStatusExtensions
{
    public static bool IsFinal(this NotificationStatus status) => status >= NotificationStatus.Delivered;
}
