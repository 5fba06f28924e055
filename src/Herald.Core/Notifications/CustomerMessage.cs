namespace Herald.Core.Notifications;

/// <summary>
/// What a customer sent in (issue #16), as stored: a reply linked to the notification it answers (a tapped button, a
/// keyboard key, a text naming a choice or just a text answering it), or an unlinked message kept for the tenant that
/// owns the sender identity (the provider account it came through).
/// </summary>
/// <param name="AccountId">The provider account it came through; its tenant owns the message, never the payload.</param>
/// <param name="From">The customer's address on the channel: E.164 phone (WhatsApp, SMS) or Telegram chat id.</param>
/// <param name="ProviderMessageId">The vendor's id of the inbound message (a vendor's retry is recognised by it).</param>
/// <param name="NotificationId">The notification answered; null for an unlinked message.</param>
/// <param name="ActionId">The choice named, by a button or by the text; null for free text.</param>
/// <param name="Late">The answer came after the question's replyTtl, or to a cancelled notification: kept and reported, marked.</param>
/// <param name="CustomerId">The notification's customer id, when linked and known.</param>
public sealed record CustomerMessage(
    Guid Id,
    Guid TenantId,
    Guid AccountId,
    Channel Channel,
    string From,
    string ProviderMessageId,
    Guid? NotificationId,
    string? ActionId,
    string? Text,
    bool Late,
    string? CustomerId,
    DateTimeOffset ReceivedAt)
{
    /// <summary>The webhook event type it is reported as.</summary>
    public string EventType => NotificationId is null ? "customer.message" : "notification.reply";
}
