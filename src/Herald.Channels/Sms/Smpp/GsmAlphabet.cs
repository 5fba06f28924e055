namespace Herald.Channels.Sms.Smpp;

/// <summary>
/// The GSM 03.38 (3GPP TS 23.038) default alphabet and its extension table, one septet per octet (unpacked), as
/// SMPP carries data_coding 0x00. Extension characters take two septets: the escape 0x1B, then their code.
/// </summary>
public static class GsmAlphabet
{
    public const byte Escape = 0x1B;

    // Index = septet value. 0x1B is the escape to the extension table (shown here as a non-breaking space, which is
    // never looked up because the reverse table skips it).
    private const string Basic =
        "@£$¥èéùìòÇ\nØø\rÅå" +
        "Δ_ΦΓΛΩΠΨΣΘΞ\u00A0ÆæßÉ" +
        " !\"#¤%&'()*+,-./" +
        "0123456789:;<=>?" +
        "¡ABCDEFGHIJKLMNO" +
        "PQRSTUVWXYZÄÖÑÜ§" +
        "¿abcdefghijklmno" +
        "pqrstuvwxyzäöñüà";

    private static readonly Dictionary<char, byte> BasicCodes = BuildBasic();

    private static readonly Dictionary<char, byte> ExtensionCodes = new()
    {
        ['\f'] = 0x0A, ['^'] = 0x14, ['{'] = 0x28, ['}'] = 0x29, ['\\'] = 0x2F,
        ['['] = 0x3C, ['~'] = 0x3D, [']'] = 0x3E, ['|'] = 0x40, ['€'] = 0x65,
    };

    private static readonly Dictionary<byte, char> ExtensionChars = ExtensionCodes.ToDictionary(static p => p.Value, static p => p.Key);

    /// <summary>Septets a character takes (1, or 2 for the extension table), or 0 when it is not in the alphabet.</summary>
    public static int Septets(char c) => BasicCodes.ContainsKey(c) ? 1 : ExtensionCodes.ContainsKey(c) ? 2 : 0;

    /// <summary>Whether every character of the text is in the alphabet or its extension table.</summary>
    public static bool CanEncode(string text)
    {
        foreach (var c in text)
        {
            if (Septets(c) == 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The text as unpacked septets; throws <see cref="ArgumentException"/> for a character outside the alphabet.</summary>
    public static byte[] Encode(ReadOnlySpan<char> text)
    {
        var result = new List<byte>(text.Length);
        foreach (var c in text)
        {
            if (BasicCodes.TryGetValue(c, out var code))
            {
                result.Add(code);
            }
            else if (ExtensionCodes.TryGetValue(c, out code))
            {
                result.Add(Escape);
                result.Add(code);
            }
            else
            {
                throw new ArgumentException($"U+{(int)c:X4} is not in the GSM 03.38 alphabet", nameof(text));
            }
        }

        return [.. result];
    }

    /// <summary>
    /// Unpacked septets to text. An escape before an unknown code reads as the basic character (the spec's fallback
    /// for receivers without that extension); a trailing escape reads as a space; octets above 0x7F are masked.
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> septets)
    {
        var chars = new char[septets.Length];
        var n = 0;
        for (var i = 0; i < septets.Length; i++)
        {
            var b = (byte)(septets[i] & 0x7F);
            if (b == Escape)
            {
                if (i + 1 >= septets.Length)
                {
                    chars[n++] = ' ';
                    break;
                }

                var next = (byte)(septets[++i] & 0x7F);
                chars[n++] = ExtensionChars.TryGetValue(next, out var ext) ? ext : next == Escape ? ' ' : Basic[next];
            }
            else
            {
                chars[n++] = Basic[b];
            }
        }

        return new string(chars, 0, n);
    }

    private static Dictionary<char, byte> BuildBasic()
    {
        var codes = new Dictionary<char, byte>(128);
        for (var i = 0; i < Basic.Length; i++)
        {
            if (i != Escape)
            {
                codes[Basic[i]] = (byte)i;
            }
        }

        return codes;
    }
}
