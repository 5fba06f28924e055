using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Herald.Channels.Callbacks;
using Herald.Core.Delivery;
using Herald.Core.Notifications;

namespace Herald.Channels.Sms.Smpp;

/// <summary>What one deliver_sm receipt says, before it is matched to an attempt.</summary>
/// <param name="MessageId">The SMSC message id the receipt is for (receipted_message_id, else the text's <c>id:</c>).</param>
/// <param name="Stat">The final state word: DELIVRD, UNDELIV, REJECTD, EXPIRED, DELETED, ACCEPTD, ENROUTE, UNKNOWN.</param>
/// <param name="Err">The text's <c>err:</c> field (network specific), or null.</param>
public sealed record SmppReceipt(string MessageId, string Stat, string? Err)
{
    /// <summary>
    /// The normalised receipt: DELIVRD → delivered; UNDELIV, REJECTD, EXPIRED, DELETED → failed (the message will
    /// not arrive: Herald falls back to the next channel); ACCEPTD, ENROUTE, UNKNOWN and anything else → null (not
    /// final, nothing to record).
    /// </summary>
    public ProviderReceipt? ToProviderReceipt(DateTimeOffset at) => Stat switch
    {
        "DELIVRD" => new ProviderReceipt(MessageId, ReceiptState.Delivered, at),
        "UNDELIV" or "REJECTD" or "EXPIRED" or "DELETED" => new ProviderReceipt(
            MessageId, ReceiptState.Failed, at, Err is null or "000" or "0" ? Stat : $"{Stat}:{Err}",
            $"SMSC receipt stat:{Stat}{(Err is null ? "" : " err:" + Err)}"),
        _ => null,
    };
}

/// <summary>
/// SMSC delivery receipts: a deliver_sm whose esm_class has the receipt bit (0x04). The id and state come from the
/// receipted_message_id (0x001E) and message_state (0x0427) TLVs when present, else from the de-facto standard
/// text of SMPP 3.4 Appendix B: <c>id:… sub:… dlvrd:… submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD
/// err:… text:…</c>.
/// </summary>
public static partial class SmppReceipts
{
    /// <summary>Whether a deliver_sm is a delivery receipt (and not a mobile-originated message).</summary>
    public static bool IsReceipt(SmppShortMessage message) => (message.EsmClass & 0x3C) == SmppFlags.EsmDeliveryReceipt;

    /// <summary>A mobile-originated message (SMPP 3.4 §5.2.12): the esm_class message type bits (2-5) are 0, the
    /// default type, where receipts and intermediate notifications set them.</summary>
    public static bool IsMobileOriginated(SmppShortMessage message) => (message.EsmClass & 0x3C) == 0;

    /// <summary>
    /// A customer's SMS from a mobile-originated deliver_sm: source_addr as E.164 (international TON, or a number
    /// without '+', gets one), the text decoded by data_coding (message_payload TLV 0x0424 when short_message is empty).
    /// The PDU carries no message id: each deliver_sm is its own message (a redelivery after ESME_RX_T_APPN is one Herald
    /// had refused, so it was not stored).
    /// </summary>
    public static InboundMessage ToInbound(SmppShortMessage message, DateTimeOffset now)
    {
        var raw = message.ShortMessage.Length > 0 ? message.ShortMessage : message.Tlv(0x0424) ?? [];
        var (_, payload) = SmsText.SplitUdh(raw, (message.EsmClass & 0x40) != 0);
        var from = message.SourceAddr.StartsWith('+') ? message.SourceAddr : "+" + message.SourceAddr;
        return new InboundMessage(Channel.Sms, from, "mo:" + Guid.CreateVersion7(now).ToString("N"), now)
        {
            Text = SmsText.Decode(message.DataCoding, payload),
        };
    }

    /// <summary>The receipt a deliver_sm carries, or null when it is not a receipt or names no message id.</summary>
    public static SmppReceipt? Parse(SmppShortMessage message)
    {
        if (!IsReceipt(message))
        {
            return null;
        }

        var text = message.DataCoding == SmppFlags.DataCodingUcs2
            ? SmsText.Decode(message.DataCoding, message.ShortMessage)
            : Encoding.Latin1.GetString(message.Tlv(SmppTag.MessagePayload) is { Length: > 0 } payload ? payload : message.ShortMessage);
        var fields = ParseText(text);

        var id = message.Tlv(SmppTag.ReceiptedMessageId) is { Length: > 0 } tlvId
            ? Encoding.Latin1.GetString(tlvId).TrimEnd('\0')
            : fields.GetValueOrDefault("id");
        if (string.IsNullOrEmpty(id))
        {
            return null;
        }

        var stat = message.Tlv(SmppTag.MessageState) is [var state] ? StatOf(state) : null;
        stat ??= fields.GetValueOrDefault("stat")?.ToUpperInvariant() ?? "UNKNOWN";
        return new SmppReceipt(id, stat, fields.GetValueOrDefault("err"));
    }

    /// <summary>The classic receipt text, as SMSCs write it (dates are YYMMDDhhmm).</summary>
    public static string Format(string messageId, string stat, string err, DateTimeOffset submitted, DateTimeOffset done, int submittedParts, string text)
    {
        var delivered = stat == "DELIVRD" ? submittedParts : 0;
        var excerpt = text.Length > 20 ? text[..20] : text;
        return string.Create(CultureInfo.InvariantCulture,
            $"id:{messageId} sub:{submittedParts:000} dlvrd:{delivered:000} submit date:{submitted:yyMMddHHmm} done date:{done:yyMMddHHmm} stat:{stat} err:{err} text:{excerpt}");
    }

    /// <summary>The message_state value of a stat word.</summary>
    public static byte StateOf(string stat) => stat switch
    {
        "ENROUTE" => SmppMessageState.Enroute,
        "DELIVRD" => SmppMessageState.Delivered,
        "EXPIRED" => SmppMessageState.Expired,
        "DELETED" => SmppMessageState.Deleted,
        "UNDELIV" => SmppMessageState.Undeliverable,
        "ACCEPTD" => SmppMessageState.Accepted,
        "REJECTD" => SmppMessageState.Rejected,
        _ => SmppMessageState.Unknown,
    };

    private static string? StatOf(byte state) => state switch
    {
        SmppMessageState.Enroute => "ENROUTE",
        SmppMessageState.Delivered => "DELIVRD",
        SmppMessageState.Expired => "EXPIRED",
        SmppMessageState.Deleted => "DELETED",
        SmppMessageState.Undeliverable => "UNDELIV",
        SmppMessageState.Accepted => "ACCEPTD",
        SmppMessageState.Rejected => "REJECTD",
        SmppMessageState.Unknown => "UNKNOWN",
        _ => null,
    };

    private static Dictionary<string, string> ParseText(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (Match m in ReceiptField().Matches(text))
        {
            var name = m.Groups["name"].Value.ToLowerInvariant();
            if (name == "text")
            {
                break;
            }

            fields.TryAdd(name, m.Groups["value"].Value);
        }

        return fields;
    }

    // "submit date" and "done date" contain a space; "text:" is last and free-form, so parsing stops there.
    [GeneratedRegex(@"(?<name>id|sub|dlvrd|submit date|done date|stat|err|text):(?<value>\S*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ReceiptField();
}
