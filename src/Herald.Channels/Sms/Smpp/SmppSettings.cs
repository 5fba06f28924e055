using System.Globalization;
using System.Numerics;
using System.Text.Json;

namespace Herald.Channels.Sms.Smpp;

/// <summary>How an SMSC writes message ids in its receipts compared with its submit_sm_resp (Kannel's msg-id-type).</summary>
public enum SmppReceiptIdFormat
{
    /// <summary>The receipt repeats the submit_sm_resp id as it was (SMPP 3.4's intent; the default).</summary>
    Same,
    /// <summary>submit_sm_resp answers in hex, the receipt writes the same number in decimal.</summary>
    HexSubmitDecimalReceipt,
    /// <summary>submit_sm_resp answers in decimal, the receipt writes the same number in hex.</summary>
    DecimalSubmitHexReceipt,
}

/// <summary>
/// The settings of an "smpp" provider account (an SMSC or aggregator over SMPP 3.4):
/// <c>{"host":"smsc.example","port":2775,"systemId":"bank","password":"secret","systemType":"",
/// "sourceAddr":"BANK","sourceTon":5,"sourceNpi":0,"destTon":1,"destNpi":1,"windowSize":10,
/// "enquireLinkSeconds":30,"responseTimeoutSeconds":10,"reconnectMinSeconds":1,"reconnectMaxSeconds":60,
/// "registeredDelivery":true,"receiptIdFormat":"same"}</c>. Everything but host, systemId, password and sourceAddr has
/// the default shown.
/// </summary>
/// <param name="SourceTon">Type of number of the sender; defaults to 5 (alphanumeric) when sourceAddr has letters,
/// else 1 (international).</param>
/// <param name="WindowSize">Most submit_sm awaiting their response on the session (1–1000).</param>
/// <param name="EnquireLinkSeconds">Idle time after which the client sends enquire_link (5–3600).</param>
/// <param name="ResponseTimeoutSeconds">How long a bind, submit_sm or enquire_link waits for its response before the
/// session is considered dead (1–300).</param>
/// <param name="ReceiptIdFormat">When the SMSC writes receipt ids in another base than its submit_sm_resp ids, both are
/// kept as the decimal number (<see cref="SubmittedId"/>, <see cref="ReceiptedId"/>) so that they match.</param>
public sealed record SmppSettings(
    string Host,
    int Port,
    string SystemId,
    string Password,
    string SystemType,
    string SourceAddr,
    byte SourceTon,
    byte SourceNpi,
    byte DestTon,
    byte DestNpi,
    int WindowSize,
    int EnquireLinkSeconds,
    int ResponseTimeoutSeconds,
    int ReconnectMinSeconds,
    int ReconnectMaxSeconds,
    bool RegisteredDelivery,
    SmppReceiptIdFormat ReceiptIdFormat = SmppReceiptIdFormat.Same)
{
    public const int DefaultPort = 2775;

    public TimeSpan EnquireLinkInterval => TimeSpan.FromSeconds(EnquireLinkSeconds);

    public TimeSpan ResponseTimeout => TimeSpan.FromSeconds(ResponseTimeoutSeconds);

    /// <summary>The provider message id Herald keeps for a submit_sm_resp id (the receipt's form of it).</summary>
    public string SubmittedId(string id) => ReceiptIdFormat switch
    {
        SmppReceiptIdFormat.HexSubmitDecimalReceipt => Canonical(id, NumberStyles.AllowHexSpecifier),
        SmppReceiptIdFormat.DecimalSubmitHexReceipt => Canonical(id, NumberStyles.None),
        _ => id,
    };

    /// <summary>The provider message id a receipt's id stands for.</summary>
    public string ReceiptedId(string id) => ReceiptIdFormat switch
    {
        SmppReceiptIdFormat.HexSubmitDecimalReceipt => Canonical(id, NumberStyles.None),
        SmppReceiptIdFormat.DecimalSubmitHexReceipt => Canonical(id, NumberStyles.AllowHexSpecifier),
        _ => id,
    };

    /// <summary>What identifies the session: a change here means a new bind.</summary>
    public string Endpoint => $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}/{SystemId}";

    public static SmppSettings Parse(JsonElement root)
    {
        var host = SettingsJson.Required(root, "host").Trim();
        if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            throw new FormatException("settings.host is not a host name or IP address");
        }

        var port = Int(root, "port", DefaultPort, 1, 65535);
        // SMPP 3.4 field sizes: system_id 15, password 8, system_type 12, source_addr 20 characters.
        var systemId = Ascii(SettingsJson.Required(root, "systemId"), "systemId", 15);
        var password = Ascii(SettingsJson.Optional(root, "password") ?? "", "password", 8);
        var systemType = Ascii(SettingsJson.Optional(root, "systemType") ?? "", "systemType", 12);
        var sourceAddr = Ascii(SettingsJson.Required(root, "sourceAddr"), "sourceAddr", 20);
        var alphanumeric = sourceAddr.Any(char.IsAsciiLetter);
        return new(
            host,
            port,
            systemId,
            password,
            systemType,
            sourceAddr,
            (byte)Int(root, "sourceTon", alphanumeric ? 5 : 1, 0, 6),
            (byte)Int(root, "sourceNpi", alphanumeric ? 0 : 1, 0, 18),
            (byte)Int(root, "destTon", 1, 0, 6),
            (byte)Int(root, "destNpi", 1, 0, 18),
            Int(root, "windowSize", 10, 1, 1000),
            Int(root, "enquireLinkSeconds", 30, 1, 3600),
            Int(root, "responseTimeoutSeconds", 10, 1, 300),
            Int(root, "reconnectMinSeconds", 1, 0, 3600),
            Int(root, "reconnectMaxSeconds", 60, 1, 3600),
            !root.TryGetProperty("registeredDelivery", out var rd) || rd.ValueKind != JsonValueKind.False,
            (SettingsJson.Optional(root, "receiptIdFormat") ?? "same").Trim().ToLowerInvariant() switch
            {
                "same" => SmppReceiptIdFormat.Same,
                "hex-submit-decimal-receipt" => SmppReceiptIdFormat.HexSubmitDecimalReceipt,
                "decimal-submit-hex-receipt" => SmppReceiptIdFormat.DecimalSubmitHexReceipt,
                _ => throw new FormatException("settings.receiptIdFormat must be same, hex-submit-decimal-receipt or decimal-submit-hex-receipt"),
            });
    }

    /// <summary>The id as a decimal number without leading zeros (hex digits in either case); an id that is not a
    /// number in that base stays as it was (it then matches only itself).</summary>
    private static string Canonical(string id, NumberStyles style)
    {
        var digits = id.Trim();
        // A leading 0 keeps a hex number with its top bit set positive (BigInteger reads hex as two's complement).
        return digits.Length is > 0 and <= 64
            && BigInteger.TryParse(style == NumberStyles.AllowHexSpecifier ? "0" + digits : digits, style, CultureInfo.InvariantCulture, out var number)
            ? number.ToString(CultureInfo.InvariantCulture)
            : id;
    }

    /// <summary>Parses settings text; throws <see cref="FormatException"/> or <see cref="JsonException"/> when unusable.</summary>
    public static SmppSettings Parse(string settingsJson)
    {
        using var doc = JsonDocument.Parse(settingsJson);
        return Parse(doc.RootElement);
    }

    /// <summary>Without the password: settings end up in logs and exception messages.</summary>
    public override string ToString() => $"smpp://{SystemId}:***@{Host}:{Port.ToString(CultureInfo.InvariantCulture)} from {SourceAddr}";

    private static string Ascii(string value, string name, int max)
    {
        if (value.Length > max || !value.All(static c => c is >= ' ' and <= '~'))
        {
            throw new FormatException($"settings.{name} must be printable ASCII of at most {max} characters");
        }

        return value;
    }

    private static int Int(JsonElement root, string name, int fallback, int min, int max)
    {
        if (!root.TryGetProperty(name, out var p) || p.ValueKind == JsonValueKind.Null)
        {
            return fallback;
        }

        int n;
        if (!(p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out n))
            && !(p.ValueKind == JsonValueKind.String && int.TryParse(p.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out n)))
        {
            throw new FormatException($"settings.{name} must be an integer");
        }

        return n < min || n > max ? throw new FormatException($"settings.{name} must be between {min} and {max}") : n;
    }
}
