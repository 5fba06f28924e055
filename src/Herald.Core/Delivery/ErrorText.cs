using System.Text.RegularExpressions;

namespace Herald.Core.Delivery;

/// <summary>
/// Provider error texts as Herald keeps them (issue #17): vendors echo the recipient ("+4917… is not a WhatsApp user",
/// "chat 123456789 not found", "invalid address ana@example.com"), and these texts are stored in plaintext (attempts,
/// attempt parts, parked receipts, webhook deliveries) and shown to read keys. Phone-like digit runs (8 to 15 digits,
/// with an optional '+' and single spaces, dots or dashes between groups, not part of a word) and e-mail addresses become
/// <see cref="Marker"/>; the rest of the text, which says what went wrong, stays. Codes of up to 7 digits (WhatsApp's
/// 131047, SMPP statuses) are kept; a 10-digit epoch or a date written 2026-12-07 is masked too, a price worth paying.
/// </summary>
public static partial class ErrorText
{
    public const string Marker = "[redacted]";

    /// <summary>The longest text kept: a vendor's whole HTML error page is not evidence.</summary>
    public const int MaxLength = 1000;

    /// <summary>The text without contacts, capped at <see cref="MaxLength"/>; null stays null.</summary>
    public static string? Scrub(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }

        var capped = text.Length > MaxLength ? text[..MaxLength] : text;
        try
        {
            return Contacts().Replace(capped, Marker);
        }
        catch (RegexMatchTimeoutException)
        {
            // Bounded quantifiers on 1,000 characters should never get here; if they do, keep nothing rather than the text.
            return Marker;
        }
    }

    [GeneratedRegex(
        @"(?<![\w+@.-])\+?\d(?:[ .\-]?\d){7,14}(?![\w@])|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
        RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex Contacts();
}
