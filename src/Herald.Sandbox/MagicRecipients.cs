namespace Herald.Sandbox;

/// <summary>
/// The sandbox's magic recipients (SPEC §6), named once: the simulators decide by them, and test data draws around
/// them so a random phone or chat id never picks a behaviour by accident.
/// </summary>
public static class MagicRecipients
{
    /// <summary>Not a WhatsApp user: permanent failure on WhatsApp.</summary>
    public const string NotOnWhatsApp = "0001";

    /// <summary>WhatsApp accepts but never sends a delivered receipt.</summary>
    public const string NoWhatsAppReceipt = "0002";

    /// <summary>WhatsApp answers 5xx twice, then accepts.</summary>
    public const string WhatsAppFailsTwice = "0003";

    /// <summary>WhatsApp keeps to Meta's 24-hour customer-service window for this customer: a free-form message (text,
    /// interactive) is refused with 131047 unless the customer wrote to that business number (<c>POST /sandbox/replies</c>)
    /// within 24 hours of the sandbox's clock; a template always goes. Other numbers take free-form at any time.</summary>
    public const string WhatsAppWindowEnforced = "0005";

    /// <summary>SMS (REST and SMPP) permanent failure: invalid number.</summary>
    public const string InvalidSmsNumber = "0004";

    /// <summary>SMPP: a multi-part SMS gets its parts' receipts in reverse order.</summary>
    public const string SmppReceiptsReversed = "0051";

    /// <summary>SMPP: like <see cref="SmppReceiptsReversed"/>, and the second part's receipt is UNDELIV.</summary>
    public const string SmppSecondPartUndelivered = "0052";

    /// <summary>SMPP: submit_sm_resp ids in hex, receipt ids in decimal.</summary>
    public const string SmppReceiptIdDecimal = "0053";

    /// <summary>Telegram chat id: "Forbidden: bot was blocked by the user".</summary>
    public const string BotBlocked = "403";

    /// <summary>Every magic phone-number suffix.</summary>
    public static IReadOnlyList<string> PhoneSuffixes { get; } =
    [
        NotOnWhatsApp, NoWhatsAppReceipt, WhatsAppFailsTwice, WhatsAppWindowEnforced, InvalidSmsNumber,
        SmppReceiptsReversed, SmppSecondPartUndelivered, SmppReceiptIdDecimal,
    ];

    /// <summary>Every magic Telegram chat id suffix.</summary>
    public static IReadOnlyList<string> ChatIdSuffixes { get; } = [BotBlocked];

    /// <summary>True when a phone number (E.164 or bare digits) picks a sandbox behaviour.</summary>
    public static bool IsMagicPhone(string phone) => PhoneSuffixes.Any(s => phone.EndsWith(s, StringComparison.Ordinal));

    /// <summary>True when a Telegram chat id picks a sandbox behaviour.</summary>
    public static bool IsMagicChatId(string chatId) => ChatIdSuffixes.Any(s => chatId.EndsWith(s, StringComparison.Ordinal));
}
