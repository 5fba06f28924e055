using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Herald.Core.Customers;

/// <summary>What a keyword does (issue #16).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<KeywordAction>))]
public enum KeywordAction
{
    [JsonStringEnumMemberName("opt_out")] OptOut,
    [JsonStringEnumMemberName("opt_in")] OptIn,
    [JsonStringEnumMemberName("help")] Help,
}

/// <summary>One keyword: a whole message (trimmed, case-insensitive, Unicode-normalised) that acts.</summary>
/// <param name="Language">The language of the answer it gets; null: English.</param>
/// <param name="Type">For opt-out and opt-in: the notification type it applies to; null: every type on the channel it
/// arrived on.</param>
public sealed record Keyword(string Word, KeywordAction Action, string? Language = null, string? Type = null);

/// <summary>The answers a customer gets, in one language.</summary>
public sealed record KeywordTexts(string OptOut, string OptIn, string Help)
{
    /// <summary>The answer to <paramref name="action"/>.</summary>
    public string For(KeywordAction action) => action switch
    {
        KeywordAction.OptOut => OptOut,
        KeywordAction.OptIn => OptIn,
        _ => Help,
    };
}

/// <summary>A located problem in keyword settings (pointer relative to the settings document).</summary>
public sealed record KeywordError(string Pointer, string Detail);

/// <summary>
/// A tenant's keywords and answers (issue #16; docs/TWO-WAY.md "Keywords"), or <see cref="Defaults"/> when it configured
/// none. <c>STOP</c> always opts out of the channel it arrived on, whatever is configured: carriers require it. Pure.
/// </summary>
public sealed partial record KeywordSettings(IReadOnlyList<Keyword> Keywords, IReadOnlyDictionary<string, KeywordTexts> Texts)
{
    /// <summary>The keyword that always works.</summary>
    public const string Stop = "STOP";

    public const int MaxKeywords = 100;
    public const int MaxWordLength = 32;
    public const int MaxTextLength = 320;
    public const int MaxLanguages = 50;

    /// <summary>What a tenant that configured nothing gets. <c>YES</c> is deliberately not an opt-in keyword: it is the
    /// most common answer to a question (docs/TWO-WAY.md "Precedence").</summary>
    public static readonly KeywordSettings Defaults = new(
        [
            new(Stop, KeywordAction.OptOut), new("UNSUBSCRIBE", KeywordAction.OptOut), new("CANCEL", KeywordAction.OptOut),
            new("END", KeywordAction.OptOut), new("QUIT", KeywordAction.OptOut), new("STOPP", KeywordAction.OptOut, "de"),
            new("STOPPEN", KeywordAction.OptOut, "de"), new("ARRET", KeywordAction.OptOut, "fr"),
            new("BAJA", KeywordAction.OptOut, "es"), new("START", KeywordAction.OptIn), new("UNSTOP", KeywordAction.OptIn),
            new("HELP", KeywordAction.Help), new("INFO", KeywordAction.Help),
        ],
        new Dictionary<string, KeywordTexts>(StringComparer.OrdinalIgnoreCase)
        {
            ["en"] = new("You are unsubscribed and will get no more messages on this channel. Reply START to subscribe again.",
                "You are subscribed again. Reply STOP to unsubscribe.",
                "Reply STOP to unsubscribe, START to subscribe again. For help, contact your bank."),
            ["de"] = new("Sie sind abgemeldet und erhalten auf diesem Kanal keine Nachrichten mehr. Antworten Sie START, um sich wieder anzumelden.",
                "Sie sind wieder angemeldet. Antworten Sie STOP, um sich abzumelden.",
                "Antworten Sie STOP zum Abmelden, START zum erneuten Anmelden. Für Hilfe wenden Sie sich an Ihre Bank."),
            ["fr"] = new("Vous êtes désinscrit et ne recevrez plus de messages sur ce canal. Répondez START pour vous réinscrire.",
                "Vous êtes de nouveau inscrit. Répondez STOP pour vous désinscrire.",
                "Répondez STOP pour vous désinscrire, START pour vous réinscrire. Pour de l'aide, contactez votre banque."),
            ["es"] = new("Se ha dado de baja y no recibirá más mensajes por este canal. Responda START para volver a suscribirse.",
                "Se ha suscrito de nuevo. Responda STOP para darse de baja.",
                "Responda STOP para darse de baja, START para suscribirse de nuevo. Para ayuda, contacte con su banco."),
        });

    /// <summary>The keyword <paramref name="text"/> is, as a whole message; null for anything else. <c>STOP</c> always
    /// matches as an opt-out of every type.</summary>
    public Keyword? Match(string? text)
    {
        if (text is null || text.Length > MaxWordLength * 2)
        {
            return null;
        }

        var word = Normalize(text);
        if (word.Length == 0)
        {
            return null;
        }

        foreach (var keyword in Keywords)
        {
            if (string.Equals(Normalize(keyword.Word), word, StringComparison.Ordinal))
            {
                return keyword;
            }
        }

        return word == Stop ? new Keyword(Stop, KeywordAction.OptOut) : null;
    }

    /// <summary>The answers in <paramref name="language"/> (a BCP 47 tag): that language, else its primary subtag, else
    /// English, else the built-in English.</summary>
    public KeywordTexts TextsFor(string? language)
    {
        if (language is not null)
        {
            if (Texts.TryGetValue(language, out var exact))
            {
                return exact;
            }

            var primary = language.Split('-')[0];
            if (Texts.TryGetValue(primary, out var texts))
            {
                return texts;
            }
        }

        return Texts.TryGetValue("en", out var english) ? english : Defaults.Texts["en"];
    }

    /// <summary>
    /// A message as keywords are compared: full-width forms as ASCII, upper-cased (invariant), accents dropped
    /// (<c>ARRÊT</c> = <c>ARRET</c>, precomposed or with combining marks), trimmed, a trailing <c>.</c> or <c>!</c>
    /// dropped. Done by hand rather than with <see cref="string.Normalize()"/>: Herald runs with invariant
    /// globalization, where normalisation does not change non-ASCII text.
    /// </summary>
    public static string Normalize(string text)
    {
        var folded = new StringBuilder(text.Length);
        foreach (var original in text)
        {
            var c = original switch
            {
                >= '！' and <= '～' => (char)(original - 0xFEE0), // full-width ASCII
                '　' => ' ', // ideographic space
                _ => original,
            };
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
            {
                continue;
            }

            c = char.ToUpperInvariant(c);
            var accented = Accented.IndexOf(c, StringComparison.Ordinal);
            folded.Append(accented >= 0 ? Plain[accented] : c);
        }

        return folded.ToString().Trim().TrimEnd('.', '!').Trim();
    }

    // Latin-1 and common Latin Extended-A capitals with their base letters.
    private const string Accented = "ÀÁÂÃÄÅĀĂĄÇĆČÈÉÊËĒĖĘĚÌÍÎÏĪĮÑŃŇÒÓÔÕÖØŌŐÙÚÛÜŪŮŰŲÝŸŚŠŹŻŽ";
    private const string Plain = "AAAAAAAAACCCEEEEEEEEIIIIIINNNOOOOOOOOUUUUUUUUYYSSZZZ";

    /// <summary>The problems of settings as a tenant would store them; empty when they can be stored.</summary>
    public static IReadOnlyList<KeywordError> Check(KeywordSettings settings)
    {
        var errors = new List<KeywordError>();
        if (settings.Keywords.Count > MaxKeywords)
        {
            errors.Add(new("/keywords", $"At most {MaxKeywords} keywords."));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < settings.Keywords.Count; i++)
        {
            var k = settings.Keywords[i];
            var at = $"/keywords/{i}";
            var word = k.Word is null ? "" : Normalize(k.Word);
            if (word.Length is 0 or > MaxWordLength || word.Any(char.IsControl))
            {
                errors.Add(new(at + "/word", $"A keyword is 1 to {MaxWordLength} characters, without control characters."));
            }
            else if (!seen.Add(word))
            {
                errors.Add(new(at + "/word", $"\"{word}\" is listed twice (keywords compare case-insensitively)."));
            }
            else if (word == Stop && (k.Action != KeywordAction.OptOut || k.Type is not null))
            {
                errors.Add(new(at + "/action", "STOP always opts out of every type on its channel: carriers require it."));
            }

            if (k.Language is not null && !LanguagePattern().IsMatch(k.Language))
            {
                errors.Add(new(at + "/language", "A language tag such as \"en\" or \"pt-BR\"."));
            }

            if (k.Type is not null && (k.Action == KeywordAction.Help || !TypePattern().IsMatch(k.Type)))
            {
                errors.Add(new(at + "/type", k.Action == KeywordAction.Help
                    ? "Only opt_out and opt_in keywords apply to a type."
                    : "A notification type: letters, digits, '.', '_' and '-', at most 64."));
            }
        }

        if (settings.Texts.Count > MaxLanguages)
        {
            errors.Add(new("/texts", $"At most {MaxLanguages} languages."));
        }

        foreach (var (language, texts) in settings.Texts)
        {
            var at = "/texts/" + language.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
            if (!LanguagePattern().IsMatch(language))
            {
                errors.Add(new(at, "A language tag such as \"en\" or \"pt-BR\"."));
                continue;
            }

            CheckText(errors, at + "/optOut", texts.OptOut);
            CheckText(errors, at + "/optIn", texts.OptIn);
            CheckText(errors, at + "/help", texts.Help);
        }

        return errors;
    }

    private static void CheckText(List<KeywordError> errors, string pointer, string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > MaxTextLength || text.Contains('\0', StringComparison.Ordinal))
        {
            errors.Add(new(pointer, $"Required: 1 to {MaxTextLength} characters (one SMS segment pair at most)."));
        }
    }

    [GeneratedRegex("^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
    private static partial Regex LanguagePattern();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex TypePattern();
}
