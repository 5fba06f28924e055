using System.Globalization;
using System.Text;
using MimeKit;
using MimeKit.Utils;

namespace Herald.Sandbox.Smtp;

/// <summary>
/// The delivery status notification (RFC 3464) a mail server returns for a recipient it could not deliver to:
/// <c>multipart/report; report-type=delivery-status</c> with a human-readable part, the machine-readable
/// <c>message/delivery-status</c> (Original-Envelope-Id from the sender's ENVID, Action failed, Status 5.1.1) and the
/// original's headers (<c>text/rfc822-headers</c>), as Postfix writes them.
/// </summary>
internal static class SmtpBounceReport
{
    public const string Subject = "Undelivered Mail Returned to Sender";

    /// <param name="Bytes">The whole report as it would travel (message/rfc822).</param>
    /// <param name="Text">Its human-readable part.</param>
    public sealed record Report(byte[] Bytes, string Text, string MessageId, string From);

    public static Report Build(string serverName, string returnPath, string? envelopeId, MimeMessage original, string recipient, DateTimeOffset now)
    {
        var from = "MAILER-DAEMON@" + serverName;
        var text = $"This is the mail system at host {serverName}.\n\nI'm sorry to have to inform you that your message could not be "
            + $"delivered to one or more recipients.\n\n<{recipient}>: host mx.late-bounce.test said: 550 5.1.1 User unknown\n";
        var report = new MultipartReport("delivery-status") { new TextPart("plain") { Text = text } };

        var status = new MessageDeliveryStatus();
        var perMessage = new HeaderList { { "Reporting-MTA", "dns; " + serverName } };
        if (envelopeId is not null)
        {
            perMessage.Add("Original-Envelope-Id", envelopeId);
        }

        perMessage.Add("Arrival-Date", DateUtils.FormatDate(now));
        status.StatusGroups.Add(perMessage);
        status.StatusGroups.Add(new HeaderList
        {
            { "Final-Recipient", "rfc822; " + recipient },
            { "Original-Recipient", "rfc822; " + recipient },
            { "Action", "failed" },
            { "Status", "5.1.1" },
            { "Remote-MTA", "dns; mx.late-bounce.test" },
            { "Diagnostic-Code", "smtp; 550 5.1.1 <" + recipient + ">: Recipient address rejected: User unknown" },
        });
        report.Add(status);
        report.Add(new TextRfc822Headers { Message = HeadersOf(original) });

        var messageId = MimeUtils.GenerateMessageId(serverName);
        using var dsn = new MimeMessage { Subject = Subject, Date = now, MessageId = messageId, Body = report };
        dsn.From.Add(new MailboxAddress("Mail Delivery System", from));
        dsn.To.Add(MailboxAddress.Parse(returnPath));
        using var bytes = new MemoryStream();
        dsn.WriteTo(bytes);
        return new Report(bytes.ToArray(), text, messageId, from);
    }

    /// <summary>The account id of a VERP return path <c>bounces+{32 hex digits}@…</c>, else null.</summary>
    public static Guid? VerpAccount(string returnPath)
    {
        var at = returnPath.IndexOf('@', StringComparison.Ordinal);
        if (at < 0 || !returnPath.StartsWith(SmtpSimulator.VerpPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return Guid.TryParseExact(returnPath.AsSpan(SmtpSimulator.VerpPrefix.Length, at - SmtpSimulator.VerpPrefix.Length), "N", out var id) ? id : null;
    }

    /// <summary>RFC 3461 xtext: <c>+XX</c> is the byte XX in hex; everything else stands for itself.</summary>
    public static string DecodeXtext(string value)
    {
        var decoded = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '+' && i + 2 < value.Length
                && byte.TryParse(value.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                decoded.Append((char)b);
                i += 2;
            }
            else
            {
                decoded.Append(value[i]);
            }
        }

        return decoded.ToString();
    }

    private static MimeMessage HeadersOf(MimeMessage original)
    {
        using var headers = new MemoryStream();
        original.Headers.WriteTo(headers);
        headers.Write("\r\n"u8);
        headers.Position = 0;
        return MimeMessage.Load(headers);
    }
}
