using System.Text;

namespace Herald.Channels.Sms.Smpp;

/// <summary>A text encoded for SMPP: the data_coding and one short_message per part (each with its UDH when
/// there is more than one part, in which case esm_class needs <see cref="SmppFlags.EsmUdhi"/>).</summary>
public sealed record SmsEncoding(byte DataCoding, IReadOnlyList<byte[]> Parts)
{
    public bool IsConcatenated => Parts.Count > 1;
}

/// <summary>The concatenation information element of a user data header (3GPP TS 23.040 §9.2.3.24.1/.8).</summary>
public readonly record struct SmsConcatenation(int Reference, int Total, int Sequence);

/// <summary>
/// SMS text encoding and segmentation. GSM 03.38 when every character fits (160 septets in one message, 153 per
/// part of a concatenated one, an escape pair never split), else UCS-2 (70 UTF-16 code units, 67 per part, a
/// surrogate pair never split). Parts carry an 8-bit-reference concatenation UDH: <c>05 00 03 ref total seq</c>.
/// </summary>
public static class SmsText
{
    public const int GsmSingle = 160;
    public const int GsmPart = 153;
    public const int Ucs2Single = 70;
    public const int Ucs2Part = 67;
    public const int MaxParts = 255;

    private static readonly Encoding Ucs2 = new UnicodeEncoding(bigEndian: true, byteOrderMark: false, throwOnInvalidBytes: false);

    /// <summary>
    /// The concatenation reference of a notification's long SMS: the same for every send of it, so that when a send
    /// is retried after some of its parts reached the SMSC, the handset (which reassembles by sender, reference and
    /// part number) takes the repeated parts as the ones it holds and shows the text once. Folded from the id's
    /// random bits, so concurrent long messages to one handset share a reference no more often than 1 in 256.
    /// </summary>
    public static byte ReferenceFor(Guid notificationId)
    {
        Span<byte> bytes = stackalloc byte[16];
        notificationId.TryWriteBytes(bytes);
        byte folded = 0;
        foreach (var b in bytes[8..])
        {
            folded ^= b;
        }

        return folded;
    }

    /// <summary>Encodes and, when needed, segments the text; null when it needs more than <see cref="MaxParts"/> parts.</summary>
    public static SmsEncoding? Encode(string text, byte reference)
    {
        var gsm = GsmAlphabet.CanEncode(text);
        var units = gsm ? SplitGsm(text) : SplitUcs2(text);
        if (units.Count > MaxParts)
        {
            return null;
        }

        var dataCoding = gsm ? SmppFlags.DataCodingDefault : SmppFlags.DataCodingUcs2;
        if (units.Count == 1)
        {
            return new SmsEncoding(dataCoding, [Payload(text, gsm)]);
        }

        var parts = new byte[units.Count][];
        for (var i = 0; i < units.Count; i++)
        {
            var payload = Payload(text.Substring(units[i].Start, units[i].Length), gsm);
            var part = new byte[6 + payload.Length];
            part[0] = 0x05;   // UDH length
            part[1] = 0x00;   // IEI: concatenated short messages, 8-bit reference
            part[2] = 0x03;   // IE length
            part[3] = reference;
            part[4] = (byte)units.Count;
            part[5] = (byte)(i + 1);
            payload.CopyTo(part, 6);
            parts[i] = part;
        }

        return new SmsEncoding(dataCoding, parts);
    }

    /// <summary>The text of a payload (without UDH) in the given data_coding.</summary>
    public static string Decode(byte dataCoding, ReadOnlySpan<byte> payload) => dataCoding switch
    {
        SmppFlags.DataCodingDefault => GsmAlphabet.Decode(payload),
        SmppFlags.DataCodingUcs2 => Ucs2.GetString(payload),
        0x01 => Encoding.ASCII.GetString(payload),   // IA5
        _ => Encoding.Latin1.GetString(payload),     // 0x03 Latin-1 and anything else 8-bit
    };

    /// <summary>
    /// Splits a short_message into its concatenation info (when it has a UDH with one) and its payload. A UDH whose
    /// length overruns the message is treated as no UDH: the whole message is the payload.
    /// </summary>
    public static (SmsConcatenation? Concatenation, byte[] Payload) SplitUdh(byte[] shortMessage, bool udhi)
    {
        if (!udhi || shortMessage.Length == 0 || shortMessage[0] + 1 > shortMessage.Length)
        {
            return (null, shortMessage);
        }

        var udhLength = shortMessage[0];
        SmsConcatenation? concat = null;
        var at = 1;
        while (at + 2 <= udhLength + 1)
        {
            var iei = shortMessage[at];
            var ieLength = shortMessage[at + 1];
            if (at + 2 + ieLength > udhLength + 1)
            {
                break;
            }

            if (iei == 0x00 && ieLength == 3)
            {
                concat = new SmsConcatenation(shortMessage[at + 2], shortMessage[at + 3], shortMessage[at + 4]);
            }
            else if (iei == 0x08 && ieLength == 4)
            {
                concat = new SmsConcatenation((shortMessage[at + 2] << 8) | shortMessage[at + 3], shortMessage[at + 4], shortMessage[at + 5]);
            }

            at += 2 + ieLength;
        }

        return (concat, shortMessage[(udhLength + 1)..]);
    }

    private static byte[] Payload(string text, bool gsm) => gsm ? GsmAlphabet.Encode(text) : Ucs2.GetBytes(text);

    private static List<(int Start, int Length)> SplitGsm(string text)
    {
        var total = 0;
        foreach (var c in text)
        {
            total += GsmAlphabet.Septets(c);
        }

        if (total <= GsmSingle)
        {
            return [(0, text.Length)];
        }

        var parts = new List<(int, int)>();
        int start = 0, septets = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var size = GsmAlphabet.Septets(text[i]);
            if (septets + size > GsmPart)
            {
                // An escape pair that does not fit moves whole to the next part.
                parts.Add((start, i - start));
                start = i;
                septets = 0;
            }

            septets += size;
        }

        parts.Add((start, text.Length - start));
        return parts;
    }

    private static List<(int Start, int Length)> SplitUcs2(string text)
    {
        if (text.Length <= Ucs2Single)
        {
            return [(0, text.Length)];
        }

        var parts = new List<(int, int)>();
        var start = 0;
        while (start < text.Length)
        {
            var length = Math.Min(Ucs2Part, text.Length - start);
            if (start + length < text.Length && char.IsHighSurrogate(text[start + length - 1]))
            {
                // A surrogate pair that does not fit moves whole to the next part.
                length--;
            }

            parts.Add((start, length));
            start += length;
        }

        return parts;
    }
}
