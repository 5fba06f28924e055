using Herald.Core.Delivery;
using MimeKit;

namespace Herald.Channels.Email;

/// <summary>
/// Reads the bounce reports that relays send back to an account's envelope sender: RFC 3464 delivery status
/// notifications (<c>multipart/report; report-type=delivery-status</c>). The message is identified by the report's
/// <c>Original-Envelope-Id</c> (Herald sends its Message-ID as ENVID) or, failing that, by the Message-ID of the quoted
/// original (<c>text/rfc822-headers</c> or <c>message/rfc822</c>); only Message-IDs Herald assigns
/// (<c>…@herald</c>) count, so other mail in a shared bounce mailbox is ignored. A recipient whose <c>Action</c> is
/// <c>failed</c> is a hard bounce (a failed receipt, error code <c>bounced</c>); <c>delivered</c> is a delivered
/// receipt; <c>delayed</c>, <c>relayed</c> and <c>expanded</c> say nothing final and are ignored.
/// </summary>
public static class BounceReports
{
    /// <summary>The error code of an attempt whose email bounced after the relay took it.</summary>
    public const string BouncedCode = "bounced";

    private const int MaxErrorLength = 300;

    private static readonly ParserOptions Parsing = new() { MaxMimeDepth = 8 };

    /// <summary>The receipts in one report; empty for anything that is not a delivery status report of ours.
    /// Never throws for malformed input (MimeKit reads whatever it can).</summary>
    public static IReadOnlyList<ProviderReceipt> Parse(Stream message, DateTimeOffset receivedAt, CancellationToken ct = default)
    {
        MimeMessage mime;
        try
        {
            mime = MimeMessage.Load(Parsing, message, ct);
        }
        catch (FormatException)
        {
            return [];
        }

        using (mime)
        {
            MessageDeliveryStatus? status = null;
            string? quotedMessageId = null;
            foreach (var part in mime.BodyParts)
            {
                switch (part)
                {
                    case MessageDeliveryStatus s:
                        status ??= s;
                        break;
                    case MessagePart { Message: { } quoted }:
                        quotedMessageId ??= quoted.MessageId;
                        break;
                }
            }

            if (status is null || status.StatusGroups.Count == 0)
            {
                return [];
            }

            var envelopeId = status.StatusGroups[0]["Original-Envelope-Id"]?.Trim();
            var messageId = Ours(envelopeId) ?? Ours(quotedMessageId);
            if (messageId is null)
            {
                return [];
            }

            for (var i = 1; i < status.StatusGroups.Count; i++)
            {
                var recipient = status.StatusGroups[i];
                switch (recipient["Action"]?.Trim().ToLowerInvariant())
                {
                    case "failed":
                        return [new ProviderReceipt(messageId, ReceiptState.Failed, receivedAt, BouncedCode, Describe(recipient))];
                    case "delivered":
                        return [new ProviderReceipt(messageId, ReceiptState.Delivered, receivedAt)];
                }
            }

            return [];
        }
    }

    private static string? Ours(string? messageId)
    {
        var id = messageId?.Trim().Trim('<', '>');
        return id is { Length: > 0 and <= 200 } && id.EndsWith("@" + SmtpEmailConnector.MessageIdDomain, StringComparison.OrdinalIgnoreCase) ? id : null;
    }

    /// <summary>"The recipient's mail server refused the message (status 5.1.1)": the RFC 3463 status code, not the
    /// remote MTA's words (an attempt's error is Herald's words, see ProviderErrors; the diagnostic also quotes the
    /// recipient's address).</summary>
    private static string Describe(HeaderList recipient)
    {
        var status = recipient["Status"]?.Trim();
        var text = status is { Length: > 0 } && status.All(static c => char.IsAsciiDigit(c) || c == '.')
            ? $"The recipient's mail server refused the message after the relay took it (status {status})."
            : "The recipient's mail server refused the message after the relay took it.";
        return text.Length <= MaxErrorLength ? text : text[..MaxErrorLength];
    }
}
