using Herald.Core.Notifications;

namespace Herald.Core.Templates;

/// <summary>A tenant's Liquid template for one name (or notification type), channel and language.</summary>
/// <param name="Language">BCP 47 tag; null for the tenant's default wording of this name and channel.</param>
/// <param name="Subject">Email only: the subject line (Liquid).</param>
/// <param name="Body">The message text (Liquid); for a WhatsApp approved template, the text used where a template cannot go.</param>
/// <param name="WhatsApp">WhatsApp only: the Meta approved template the message is sent as.</param>
/// <param name="Version">Starts at 1; every save of the same name, channel and language adds one.</param>
public sealed record MessageTemplate(
    Guid Id,
    Guid TenantId,
    string Name,
    Channel Channel,
    string? Language,
    string? Subject,
    string Body,
    WhatsAppTemplateMapping? WhatsApp,
    int Version,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>Email only: the HTML part (Liquid). Values from the model are HTML-encoded when rendered, so data can
    /// never add markup; without it the HTML part is the text, escaped, in a plain page.</summary>
    public string? Html { get; init; }
}

/// <summary>A Meta approved WhatsApp template: its name and language at Meta, and one Liquid expression per body
/// parameter ({{1}}, {{2}}, ... in order), e.g. <c>data.amount | money: data.currency</c>.</summary>
public sealed record WhatsAppTemplateMapping(string Name, string Language, IReadOnlyList<string> Parameters);

/// <summary>What a template produced for one notification.</summary>
public sealed record RenderedMessage(string Text, string? Subject, RenderedWhatsAppTemplate? WhatsApp)
{
    /// <summary>Email only: the rendered HTML part, when the template has one.</summary>
    public string? Html { get; init; }
}

/// <summary>A WhatsApp approved template with its body parameters rendered.</summary>
public sealed record RenderedWhatsAppTemplate(string Name, string Language, IReadOnlyList<string> Parameters);

/// <summary>Picks the template for a notification among a tenant's templates. Pure.</summary>
public static class TemplateSelection
{
    /// <summary>Among the templates of <paramref name="name"/> on <paramref name="channel"/>: the exact language, else
    /// the base language (pt-BR → pt), else the default (no language), else any (the lowest language tag, so the
    /// choice is stable). Null when the name has no template on the channel.</summary>
    public static MessageTemplate? Select(IEnumerable<MessageTemplate> templates, string name, Channel channel, string? language)
    {
        MessageTemplate? exact = null, baseMatch = null, fallback = null, any = null;
        var baseLanguage = language is null ? null : BaseLanguage(language);
        foreach (var t in templates)
        {
            if (t.Channel != channel || !string.Equals(t.Name, name, StringComparison.Ordinal))
            {
                continue;
            }

            if (t.Language is null)
            {
                fallback = t;
            }
            else if (language is not null && string.Equals(t.Language, language, StringComparison.OrdinalIgnoreCase))
            {
                exact = t;
            }
            else if (baseLanguage is not null && string.Equals(t.Language, baseLanguage, StringComparison.OrdinalIgnoreCase))
            {
                baseMatch = t;
            }

            if (any is null || string.CompareOrdinal(t.Language ?? "", any.Language ?? "") < 0)
            {
                any = t;
            }
        }

        return exact ?? baseMatch ?? fallback ?? any;
    }

    public static string BaseLanguage(string language)
    {
        var dash = language.IndexOf('-', StringComparison.Ordinal);
        return dash < 0 ? language : language[..dash];
    }
}
