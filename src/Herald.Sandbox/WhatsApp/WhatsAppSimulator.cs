using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Throttling;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox.WhatsApp;

/// <summary>
/// The Cloud API's <c>POST /{version}/{phoneNumberId}/messages</c>: validates like Graph, answers like Graph,
/// records what the customer received and schedules the status webhooks.
/// </summary>
public sealed class WhatsAppSimulator(
    IOptions<SandboxOptions> options,
    SandboxSettings settings,
    SandboxMailbox mailbox,
    SandboxRateLimiter rateLimiter,
    SandboxStats stats,
    WhatsAppWebhookDispatcher webhooks,
    TimeProvider time)
{
    /// <summary>Channel name used in the mailbox and stats.</summary>
    public const string ChannelName = "whatsapp";

    private readonly string? requiredToken = options.Value.AccessToken;
    private readonly ConcurrentDictionary<string, int> flakyAttempts = new(StringComparer.Ordinal);

    // When each customer last wrote to each business number (phone number id, digits): the customer-service window.
    private readonly ConcurrentDictionary<(string PhoneNumberId, string Digits), DateTimeOffset> lastInbound = new();

    /// <summary>Records that a simulated customer wrote to a business number (<c>POST /sandbox/replies</c>): for a
    /// <see cref="MagicRecipients.WhatsAppWindowEnforced"/> number it opens Meta's 24-hour customer-service window.</summary>
    public void CustomerWrote(string phoneNumberId, string digits, DateTimeOffset at) =>
        lastInbound.AddOrUpdate((phoneNumberId, digits), at, (_, known) => known > at ? known : at);

    /// <summary>Handles one send request.</summary>
    public async Task<IResult> SendAsync(HttpContext context, string phoneNumberId, CancellationToken cancellationToken)
    {
        var current = settings.Current;
        if (current.LatencyMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(current.LatencyMs), time, cancellationToken).ConfigureAwait(false);
        }

        if (!IsAuthorised(context.Request))
        {
            stats.Rejected(ChannelName, phoneNumberId);
            return GraphErrors.InvalidToken();
        }

        if (!rateLimiter.TryAcquire(ChannelName + ":" + phoneNumberId, current.RatePerSecond).Allowed)
        {
            stats.RateLimited(ChannelName, phoneNumberId);
            return GraphErrors.RateLimitHit();
        }

        ParsedMessage message;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, default, cancellationToken).ConfigureAwait(false);
            var error = TryParse(document.RootElement, out message);
            if (error is not null)
            {
                stats.Rejected(ChannelName, phoneNumberId);
                return GraphErrors.InvalidParameter(error);
            }
        }
        catch (JsonException)
        {
            stats.Rejected(ChannelName, phoneNumberId);
            return GraphErrors.InvalidParameter("Request body is not valid JSON.");
        }

        var digits = message.Digits;
        if (digits.EndsWith(MagicRecipients.WhatsAppFailsTwice, StringComparison.Ordinal)
            && flakyAttempts.AddOrUpdate(digits, 1, static (_, n) => n + 1) <= 2)
        {
            stats.Failed(ChannelName, phoneNumberId);
            return GraphErrors.SomethingWentWrong();
        }

        if (message.Template is null && digits.EndsWith(MagicRecipients.WhatsAppWindowEnforced, StringComparison.Ordinal)
            && !(lastInbound.TryGetValue((phoneNumberId, digits), out var wrote) && time.GetUtcNow() - wrote < TimeSpan.FromHours(24)))
        {
            // Meta: free-form (text, interactive) only within 24 hours of the customer's last message to this number.
            stats.Rejected(ChannelName, phoneNumberId);
            return GraphErrors.ReEngagement();
        }

        if (current.FailureRate > 0 && Random.Shared.NextDouble() < current.FailureRate)
        {
            stats.Failed(ChannelName, phoneNumberId);
            return GraphErrors.ServiceUnavailable();
        }

        var wamid = NewWamid(digits);
        var now = time.GetUtcNow();
        mailbox.Add(new SandboxMessage(ChannelName, "+" + digits, message.Text, message.Template, wamid, now, phoneNumberId) { Buttons = message.Buttons, Credential = Credential(context.Request) });
        stats.Accepted(ChannelName, phoneNumberId);
        ScheduleStatuses(wamid, digits, phoneNumberId, message.Template is null ? "service" : "utility", current.ReceiptDelayMs, now);

        return Results.Json(new
        {
            messaging_product = "whatsapp",
            contacts = new[] { new { input = message.To, wa_id = digits } },
            messages = new[] { new { id = wamid } },
        });
    }

    /// <summary>Forgets per-recipient magic state (the 0003 failure counters, the 0005 windows).</summary>
    public void Reset()
    {
        flakyAttempts.Clear();
        lastInbound.Clear();
    }

    private void ScheduleStatuses(string wamid, string digits, string phoneNumberId, string category, int delayMs, DateTimeOffset now)
    {
        var timestamp = (now.ToUnixTimeMilliseconds() + delayMs) / 1000;
        if (digits.EndsWith(MagicRecipients.NotOnWhatsApp, StringComparison.Ordinal))
        {
            // How the Cloud API reports a number that is not on WhatsApp: accepted, then failed.
            webhooks.Schedule(
                new StatusUpdate
                {
                    MessageId = wamid,
                    Status = "failed",
                    RecipientId = digits,
                    PhoneNumberId = phoneNumberId,
                    Category = category,
                    Timestamp = timestamp,
                    ErrorCode = 131026,
                    ErrorTitle = "Message undeliverable",
                    ErrorDetails = "Message Undeliverable.",
                },
                delayMs);
            return;
        }

        webhooks.Schedule(
            new StatusUpdate
            {
                MessageId = wamid,
                Status = "sent",
                RecipientId = digits,
                PhoneNumberId = phoneNumberId,
                Category = category,
                Timestamp = timestamp,
                Next = digits.EndsWith(MagicRecipients.NoWhatsAppReceipt, StringComparison.Ordinal) ? null : "delivered",
            },
            delayMs);
    }

    private static string Credential(HttpRequest request) =>
        SandboxMessage.CredentialOf(request.Headers.Authorization.ToString()["Bearer ".Length..].Trim());

    private bool IsAuthorised(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        if (!header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) || header.Length == prefix.Length)
        {
            return false;
        }

        var token = header.AsSpan(prefix.Length).Trim();
        return token.Length > 0 && (requiredToken is null || token.SequenceEqual(requiredToken));
    }

    private static string? TryParse(JsonElement root, out ParsedMessage message)
    {
        message = default;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return "Request body must be a JSON object.";
        }

        if (!TryGetString(root, "messaging_product", out var product) || product != "whatsapp")
        {
            return "The parameter messaging_product is required and must be \"whatsapp\".";
        }

        if (!TryGetString(root, "to", out var to) || string.IsNullOrWhiteSpace(to))
        {
            return "The parameter to is required.";
        }

        var digits = new StringBuilder(to.Length);
        foreach (var c in to)
        {
            if (char.IsAsciiDigit(c))
            {
                digits.Append(c);
            }
            else if (c is not ('+' or ' ' or '-' or '(' or ')'))
            {
                return "The parameter to must be a phone number.";
            }
        }

        if (digits.Length is < 6 or > 15)
        {
            return "The parameter to must be a phone number.";
        }

        var type = TryGetString(root, "type", out var t) ? t : "text";
        switch (type)
        {
            case "text":
                if (!root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.Object
                    || !TryGetString(text, "body", out var body) || string.IsNullOrEmpty(body))
                {
                    return "The parameter text['body'] is required.";
                }

                if (body.Length > 4096)
                {
                    return "Param text['body'] must be at most 4096 characters long.";
                }

                message = new ParsedMessage(to, digits.ToString(), body, null);
                return null;

            case "template":
                if (!root.TryGetProperty("template", out var template) || template.ValueKind != JsonValueKind.Object
                    || !TryGetString(template, "name", out var name) || string.IsNullOrWhiteSpace(name))
                {
                    return "The parameter template['name'] is required.";
                }

                if (!template.TryGetProperty("language", out var language) || language.ValueKind != JsonValueKind.Object
                    || !TryGetString(language, "code", out var code) || string.IsNullOrWhiteSpace(code))
                {
                    return "The parameter template['language']['code'] is required.";
                }

                var parameters = new List<string>();
                if (template.TryGetProperty("components", out var components))
                {
                    if (components.ValueKind != JsonValueKind.Array)
                    {
                        return "The parameter template['components'] must be an array.";
                    }

                    foreach (var component in components.EnumerateArray())
                    {
                        if (component.ValueKind != JsonValueKind.Object)
                        {
                            return "Each template component must be an object.";
                        }

                        if (component.TryGetProperty("parameters", out var list) && list.ValueKind == JsonValueKind.Array)
                        {
                            foreach (var parameter in list.EnumerateArray())
                            {
                                parameters.Add(ParameterText(parameter));
                            }
                        }
                    }
                }

                message = new ParsedMessage(to, digits.ToString(), null, new SandboxTemplate(name, code, parameters));
                return null;

            case "interactive":
                return TryParseButtons(root, to, digits.ToString(), out message);

            default:
                return $"The parameter type has an unsupported value: {type}.";
        }
    }

    /// <summary>An interactive reply buttons message, checked as the Cloud API documents it ("Interactive reply buttons
    /// messages"): interactive.type "button", body.text of 1 to 1024 characters, 1 to 3 buttons of type "reply" whose
    /// reply.id (at most 256 characters) and reply.title (at most 20) are unique.</summary>
    private static string? TryParseButtons(JsonElement root, string to, string digits, out ParsedMessage message)
    {
        message = default;
        if (!root.TryGetProperty("interactive", out var interactive) || interactive.ValueKind != JsonValueKind.Object
            || !TryGetString(interactive, "type", out var kind))
        {
            return "The parameter interactive['type'] is required.";
        }

        if (kind != "button")
        {
            return $"The sandbox supports interactive['type'] \"button\" only, not \"{kind}\".";
        }

        if (!interactive.TryGetProperty("body", out var body) || body.ValueKind != JsonValueKind.Object
            || !TryGetString(body, "text", out var text) || text.Length is 0 or > 1024)
        {
            return "The parameter interactive['body']['text'] is required and must be at most 1024 characters long.";
        }

        if (!interactive.TryGetProperty("action", out var action) || action.ValueKind != JsonValueKind.Object
            || !action.TryGetProperty("buttons", out var buttons) || buttons.ValueKind != JsonValueKind.Array
            || buttons.GetArrayLength() is < 1 or > 3)
        {
            return "The parameter interactive['action']['buttons'] must have 1 to 3 buttons.";
        }

        var list = new List<SandboxButton>(3);
        foreach (var button in buttons.EnumerateArray())
        {
            if (button.ValueKind != JsonValueKind.Object || !TryGetString(button, "type", out var buttonType) || buttonType != "reply"
                || !button.TryGetProperty("reply", out var reply) || reply.ValueKind != JsonValueKind.Object
                || !TryGetString(reply, "id", out var id) || id.Length is 0 or > 256
                || !TryGetString(reply, "title", out var title) || title.Length is 0 or > 20)
            {
                return "Each button needs type \"reply\", reply['id'] (1 to 256 characters) and reply['title'] (1 to 20 characters).";
            }

            if (list.Exists(b => b.Id == id || b.Title == title))
            {
                return "Button ids and titles must be unique.";
            }

            list.Add(new SandboxButton(id, title));
        }

        message = new ParsedMessage(to, digits, text, null) { Buttons = list };
        return null;
    }

    private static string ParameterText(JsonElement parameter)
    {
        if (parameter.ValueKind == JsonValueKind.Object && TryGetString(parameter, "type", out var type))
        {
            if (type == "text" && TryGetString(parameter, "text", out var text))
            {
                return text;
            }

            if (parameter.TryGetProperty(type, out var typed) && typed.ValueKind == JsonValueKind.Object
                && TryGetString(typed, "fallback_value", out var fallback))
            {
                return fallback;
            }
        }

        return parameter.GetRawText();
    }

    private static bool TryGetString(JsonElement element, string name, out string value)
    {
        if (element.TryGetProperty(name, out var property) && property.ValueKind == JsonValueKind.String)
        {
            value = property.GetString()!;
            return true;
        }

        value = string.Empty;
        return false;
    }

    // Real wamids are base64 of an opaque blob that embeds the recipient; so are these, plus randomness for uniqueness.
    private static string NewWamid(string digits)
    {
        Span<byte> blob = stackalloc byte[digits.Length + 18];
        blob[0] = 0x15;
        blob[1] = (byte)digits.Length;
        Encoding.ASCII.GetBytes(digits, blob[2..]);
        RandomNumberGenerator.Fill(blob[(2 + digits.Length)..]);
        return "wamid." + Convert.ToBase64String(blob);
    }

    private readonly record struct ParsedMessage(string To, string Digits, string? Text, SandboxTemplate? Template)
    {
        public IReadOnlyList<SandboxButton>? Buttons { get; init; }
    }
}
