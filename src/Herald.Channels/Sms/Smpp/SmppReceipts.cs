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
    /// <para>The PDU carries no message id (SMPP 3.4: receipted_message_id names the submitted message a receipt is for;
    /// a mobile-originated deliver_sm has none, and its sequence_number is the session's, new after a reconnect). An SMSC
    /// that got no deliver_sm_resp (the link dropped after Herald stored the message) delivers it again, so the message
    /// is named by what it is: <see cref="MoId"/> of its addresses, coding, bytes and the handset's reference TLVs,
    /// within a <see cref="MoRedeliveryWindow"/> bucket; <see cref="InboundMessage.EarlierId"/> is its name in the
    /// previous bucket. The same text from the same number within 10 to 20 minutes is therefore one message.</para>
    /// </summary>
    public static InboundMessage ToInbound(SmppShortMessage message, DateTimeOffset now)
    {
        var raw = message.ShortMessage.Length > 0 ? message.ShortMessage : message.Tlv(0x0424) ?? [];
        var (_, payload) = SmsText.SplitUdh(raw, (message.EsmClass & 0x40) != 0);
        var from = message.SourceAddr.StartsWith('+') ? message.SourceAddr : "+" + message.SourceAddr;
        var bucket = now.ToUnixTimeMilliseconds() / (long)MoRedeliveryWindow.TotalMilliseconds;
        return new InboundMessage(Channel.Sms, from, MoId(message, raw, bucket), now)
        {
            Text = SmsText.Decode(message.DataCoding, payload),
            EarlierId = MoId(message, raw, bucket - 1),
        };
    }

    /// <summary>How long an SMSC's redelivery of a mobile-originated message is recognised: at least this, at most twice.</summary>
    public static readonly TimeSpan MoRedeliveryWindow = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The name of a mobile-originated message in one time bucket: <c>mo:</c> + SHA-256 (hex, 40 characters) over
    /// source and destination address, data_coding, the message bytes (UDH included: a concatenated message's parts
    /// differ by it) and the TLVs the handset or SMSC sets per message (user_message_reference 0x0204, sar_msg_ref_num
    /// 0x020C, sar_segment_seqnum 0x020F), + <c>:</c> + the bucket.
    /// </summary>
    public static string MoId(SmppShortMessage message, ReadOnlySpan<byte> raw, long bucket)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        void Field(ReadOnlySpan<byte> value)
        {
            Span<byte> length = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, value.Length);
            hash.AppendData(length);
            hash.AppendData(value);
        }

        Field(Encoding.UTF8.GetBytes(message.SourceAddr));
        Field(Encoding.UTF8.GetBytes(message.DestinationAddr));
        Field([message.DataCoding]);
        Field(raw);
        foreach (var tag in MoReferenceTags)
        {
            Field(message.Tlv(tag) ?? []);
        }

        return "mo:" + Convert.ToHexStringLower(hash.GetHashAndReset())[..40] + ":" + bucket.ToString(CultureInfo.InvariantCulture);
    }

    private static readonly ushort[] MoReferenceTags = [0x0204, 0x020C, 0x020F];

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
