using System.Text;
using System.Text.Json;
using Herald.Channels;
using Herald.Channels.Sms.Smpp;
using Herald.Core.Customers;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Templates;
using Herald.Server.Templates;

namespace Herald.Server.Delivery;

/// <summary>What one channel sends for one notification.</summary>
/// <param name="Subject">Email: the template's subject; null keeps the account's subject.</param>
/// <param name="Template">WhatsApp: the approved template to send instead of free text.</param>
/// <param name="TemplateId">The stored template used, null for the default text.</param>
public sealed record ComposedMessage(string Text, string? Subject, WhatsAppTemplate? Template, Guid? TemplateId)
{
    /// <summary>Email: the template's HTML part; null sends the text as the HTML part too.</summary>
    public string? Html { get; init; }

    /// <summary>Set when the template broke a limit of <see cref="TemplateLimits"/> (too large, out of budget): the
    /// message cannot be sent with it, and the attempt fails permanently with this outcome (code
    /// <c>template_too_large</c> or <c>template_budget</c>) instead of going to a provider.</summary>
    public SendOutcome? Failure { get; init; }

    /// <summary>Where the template broke its limit ("body", "subject", "html", "whatsApp/parameters/0").</summary>
    public string? FailedField { get; init; }
}

/// <summary>
/// Turns a notification into the words a channel sends. With a tenant template for the notification (the name the
/// rules chose for the channel, else the notification type), renders it in the customer's language (see
/// <see cref="TemplateSelection"/> for the fallbacks); without one, the default text: <c>data.text</c> when the bank
/// supplied one, otherwise the type and the data's fields, one per line. Templates come from the per-node
/// <see cref="TemplateCache"/>: no store call per message.
/// </summary>
public sealed class MessageComposer(TemplateCache templates, TemplateRenderer renderer, ILogger<MessageComposer> logger)
{
    /// <summary>Composes <paramref name="n"/> for <paramref name="channel"/>. Usable for dry runs: it sends nothing
    /// and stores nothing. A template that fails at run time falls back to the default text (and is logged); one that
    /// breaks a limit (<see cref="TemplateLimits"/>) yields a message with <see cref="ComposedMessage.Failure"/> set.</summary>
    /// <param name="customer">The stored customer, for language, time zone and fields; null for inline-only notifications.</param>
    public async ValueTask<ComposedMessage> ComposeAsync(Notification n, Channel channel, Customer? customer, CancellationToken ct)
    {
        var composed = await ComposeTextAsync(n, channel, customer, ct);
        return n.Actions.Count > 0 && channel is Channel.Sms or Channel.Email && composed.Failure is null
            ? WithChoices(composed, n.Actions, n.Contacts.Language ?? customer?.Language)
            : composed;
    }

    /// <summary>
    /// SMS and email carry reply choices as text (issue #16): "Reply 1 for …, 2 for …" in the customer's language
    /// (<see cref="ReplyActions.TextFooter"/>), unless the text already names every choice's title, as a template
    /// that states the choices in its own words does.
    /// </summary>
    public static ComposedMessage WithChoices(ComposedMessage composed, IReadOnlyList<NotificationAction> actions, string? language)
    {
        if (actions.All(a => composed.Text.Contains(a.Title, StringComparison.OrdinalIgnoreCase)))
        {
            return composed;
        }

        var footer = ReplyActions.TextFooter(actions, language);
        return composed with
        {
            Text = composed.Text + "\n\n" + footer,
            Html = composed.Html is { } html ? html + "<p>" + System.Net.WebUtility.HtmlEncode(footer) + "</p>" : null,
        };
    }

    private async ValueTask<ComposedMessage> ComposeTextAsync(Notification n, Channel channel, Customer? customer, CancellationToken ct)
    {
        var all = await templates.GetAsync(n.TenantId, ct);
        if (all.Count == 0)
        {
            return new ComposedMessage(Compose(n), null, null, null);
        }

        var name = n.Route.Templates?.GetValueOrDefault(channel) ?? n.Type;
        var language = n.Contacts.Language ?? customer?.Language;
        if (TemplateSelection.Select(all, name, channel, language) is not { } template)
        {
            return new ComposedMessage(Compose(n), null, null, null);
        }

        try
        {
            var context = new RenderContext(CustomerFields(n, customer), language, CustomerPreferences.FindZone(customer?.TimeZone))
            {
                // A digest's sent message: templates may write {{ digest.count }} as well as {{ data.digest.count }}.
                Digest = n.Route.Digest is not null,
            };
            var rendered = renderer.Render(template, n.Type, n.DataJson, context);
            if (channel == Channel.Sms && SmsText.Encode(rendered.Text, 0) is not { Parts.Count: <= TemplateLimits.SmsSegments })
            {
                // The render-time cap counts GSM characters; a Unicode text needs more segments for the same length.
                throw new TemplateLimitException(TemplateLimitException.TooLarge,
                    $"The body needs more than {TemplateLimits.SmsSegments} SMS segments.") { Field = "body" };
            }

            var whatsApp = channel == Channel.WhatsApp && rendered.WhatsApp is { } w ? new WhatsAppTemplate(w.Name, w.Language, w.Parameters) : null;
            return new ComposedMessage(rendered.Text, channel == Channel.Email ? rendered.Subject : null, whatsApp, template.Id)
            {
                Html = channel == Channel.Email ? rendered.Html : null,
            };
        }
        catch (TemplateLimitException e)
        {
            logger.TemplateLimitBroken(template.Id, template.Version, n.Id, e.Code, e.Field);
            return new ComposedMessage("", null, null, template.Id)
            {
                Failure = SendOutcome.Permanent(e.Code, $"Template '{template.Name}' v{template.Version}: {e.Message}"),
                FailedField = e.Field,
            };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.TemplateFailed(template.Id, template.Version, n.Id, e.GetType().Name);
            return new ComposedMessage(Compose(n), null, null, null);
        }
    }

    /// <summary>The default text, used when the tenant has no template for the notification.</summary>
    public static string Compose(Notification n)
    {
        using var document = JsonDocument.Parse(n.DataJson);
        var root = document.RootElement;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
        {
            return text.GetString()!;
        }

        var builder = new StringBuilder(n.Type);
        if (root.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in root.EnumerateObject())
            {
                builder.Append('\n').Append(property.Name).Append(": ")
                    .Append(property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : property.Value.GetRawText());
            }
        }

        return builder.ToString();
    }

    private static Dictionary<string, string>? CustomerFields(Notification n, Customer? customer)
    {
        if (customer is not null)
        {
            return new Dictionary<string, string>(CustomerPreferences.RuleFields(customer), StringComparer.Ordinal);
        }

        if (n.CustomerId is null && n.Contacts.Language is null)
        {
            return null;
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        if (n.CustomerId is { } id)
        {
            fields["id"] = id;
        }

        if (n.Contacts.Language is { } language)
        {
            fields["language"] = language;
        }

        return fields;
    }
}
