using MailKit;
using MailKit.Net.Smtp;
using MimeKit;

namespace Herald.Channels.Email;

/// <summary>
/// Asks the relay for a delivery status notification (RFC 3461) when delivery fails: <c>NOTIFY=FAILURE</c> per
/// recipient, <c>RET=HDRS</c> (the report quotes the headers, not the whole message) and <c>ENVID</c> = the message's
/// Message-ID, which is the attempt's provider message id, so the report names the attempt even when a relay drops
/// the quoted headers. MailKit sends these only to a relay that announces the DSN extension; a relay without it still
/// bounces, to the envelope sender, in its own format (matched by the quoted Message-ID).
/// </summary>
internal sealed class DsnSmtpClient : SmtpClient
{
    public DsnSmtpClient() => DeliveryStatusNotificationType = DeliveryStatusNotificationType.HeadersOnly;

    protected override string GetEnvelopeId(MimeMessage message) => message.MessageId ?? string.Empty;

    protected override DeliveryStatusNotification? GetDeliveryStatusNotifications(MimeMessage message, MailboxAddress mailbox) =>
        DeliveryStatusNotification.Failure;
}
