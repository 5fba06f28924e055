using Herald.Core.Notifications;

namespace Herald.Core.Rules;

/// <summary>What a rule sees: the notification, the stored customer record if any, and the time of evaluation.</summary>
/// <param name="Customer">
/// The customer record as flat text fields (e.g. <c>segment</c>, <c>timezone</c> as an IANA id); null when the
/// notification carries inline contacts only. Inline contacts win over the record for the contact fields.
/// </param>
public sealed record RuleContext(NewNotification Notification, IReadOnlyDictionary<string, string>? Customer, DateTimeOffset Now);
