using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace Herald.Core.Notifications;

/// <summary>One reply choice a notification offers the customer (issue #16): a button, a keyboard key, a numbered
/// line of text. <see cref="Id"/> comes back in the reply; <see cref="Title"/> is what the customer sees.</summary>
public sealed record NotificationAction(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("title")] string Title);

/// <summary>The limits and defaults of reply actions, named once for ingest, rules and every channel.</summary>
public static class ReplyActions
{
    /// <summary>WhatsApp interactive messages carry at most 3 reply buttons; the other channels follow so a
    /// notification reads the same everywhere.</summary>
    public const int MaxActions = 3;

    /// <summary>Ids travel in Telegram's <c>callback_data</c> (64 bytes with our prefix) and WhatsApp's button
    /// reply id (256); 32 ASCII characters fit both with room for the notification reference.</summary>
    public const int MaxIdLength = 32;

    /// <summary>A title must fit the widest channel (Telegram buttons, SMS lines); WhatsApp's own limit is checked
    /// only when the plan includes WhatsApp.</summary>
    public const int MaxTitleLength = 64;

    /// <summary>WhatsApp Cloud API: <c>action.buttons[].reply.title</c> is at most 20 characters.</summary>
    public const int WhatsAppMaxTitleLength = 20;

    /// <summary>A question stays open this long unless the notification says otherwise (issue #16).</summary>
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromHours(24);

    /// <summary>Shorter questions cannot be answered by a person reading a phone; shorter is a typo.</summary>
    public static readonly TimeSpan MinTtl = TimeSpan.FromMinutes(1);

    /// <summary>An SMS reply is matched to the latest open question to that number: a question left open for weeks
    /// would capture unrelated texts, and a bank's question older than a week has lost its point.</summary>
    public static readonly TimeSpan MaxTtl = TimeSpan.FromDays(7);

    /// <summary>Whether <paramref name="id"/> is 1 to 32 of <c>a-z 0-9 _ -</c>.</summary>
    public static bool IsValidId(string? id)
    {
        if (id is null || id.Length is 0 or > MaxIdLength)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Every rule a list of reply choices must keep, located relative to the list (<c>/0/title</c>): at most
    /// <see cref="MaxActions"/>, ids <c>[a-z0-9_-]{1,32}</c> and unique, titles 1 to <see cref="MaxTitleLength"/>
    /// characters without line breaks, and at most <see cref="WhatsAppMaxTitleLength"/> when <paramref name="whatsApp"/>
    /// (the plan includes WhatsApp). Ingest and rules share it.
    /// </summary>
    public static IReadOnlyList<(string Pointer, string Detail)> Check(IReadOnlyList<NotificationAction> actions, bool whatsApp)
    {
        var problems = new List<(string, string)>();
        if (actions.Count > MaxActions)
        {
            problems.Add(("", $"At most {MaxActions} reply choices (WhatsApp shows no more buttons)."));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < actions.Count; i++)
        {
            var at = "/" + i.ToString(CultureInfo.InvariantCulture);
            var (id, title) = (actions[i].Id, actions[i].Title);
            if (!IsValidId(id))
            {
                problems.Add((at + "/id", $"Must be 1 to {MaxIdLength} characters of a-z, 0-9, '_' or '-', e.g. \"confirm\"."));
            }
            else if (!seen.Add(id))
            {
                problems.Add((at + "/id", $"Duplicate id \"{id}\": every choice needs its own."));
            }

            var length = title is null ? 0 : TitleLength(title);
            if (string.IsNullOrWhiteSpace(title) || length > MaxTitleLength || title.AsSpan().IndexOfAny('\r', '\n') >= 0)
            {
                problems.Add((at + "/title", $"Must be 1 to {MaxTitleLength} characters on one line."));
            }
            else if (whatsApp && length > WhatsAppMaxTitleLength)
            {
                problems.Add((at + "/title", $"At most {WhatsAppMaxTitleLength} characters: the plan includes WhatsApp, whose reply buttons show no more ({length} given)."));
            }
        }

        return problems;
    }

    /// <summary>Title length as a customer sees it (user-perceived characters), the way vendors count.</summary>
    public static int TitleLength(string title) => new StringInfo(title).LengthInTextElements;

    /// <summary>
    /// The text channels' rendering (SMS, email, and the text fallback everywhere): one line per choice, numbered
    /// from 1, so a customer can answer with the digit or the title. The wording is per language for the languages
    /// listed; others get English (docs/TWO-WAY.md).
    /// </summary>
    public static string TextFooter(IReadOnlyList<NotificationAction> actions, string? language)
    {
        var (reply, forWord) = (language ?? "en").Split('-')[0].ToLowerInvariant() switch
        {
            "de" => ("Antworten Sie", "für"),
            "fr" => ("Répondez", "pour"),
            "es" => ("Responda", "para"),
            "pt" => ("Responda", "para"),
            "it" => ("Rispondi", "per"),
            _ => ("Reply", "for"),
        };
        var text = new StringBuilder();
        for (var i = 0; i < actions.Count; i++)
        {
            text.Append(text.Length == 0 ? reply + " " : ", ")
                .Append((i + 1).ToString(CultureInfo.InvariantCulture)).Append(' ').Append(forWord).Append(' ').Append(actions[i].Title);
        }

        return text.Append('.').ToString();
    }

    /// <summary>The action a free-text reply names: its number ("1"), its id, or its title (case-insensitive, trimmed,
    /// trailing punctuation ignored). Null when the text names none.</summary>
    public static NotificationAction? Match(IReadOnlyList<NotificationAction> actions, string? text)
    {
        if (actions.Count == 0 || text is null)
        {
            return null;
        }

        var t = text.Trim().TrimEnd('.', '!', ' ');
        if (int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= 1 && number <= actions.Count)
        {
            return actions[number - 1];
        }

        foreach (var action in actions)
        {
            if (string.Equals(action.Id, t, StringComparison.OrdinalIgnoreCase) || string.Equals(action.Title, t, StringComparison.OrdinalIgnoreCase))
            {
                return action;
            }
        }

        return null;
    }
}
