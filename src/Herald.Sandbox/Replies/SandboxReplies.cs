using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Sandbox.Callbacks;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Sms;
using Herald.Sandbox.WhatsApp;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox.Replies;

/// <summary>The body of <c>POST /sandbox/replies</c>: a simulated customer answers (issue #16).</summary>
/// <param name="Channel"><c>whatsapp</c>, <c>telegram</c> or <c>sms</c>.</param>
/// <param name="From">The customer: the number the answered message was sent to.</param>
/// <param name="Text">What the customer types.</param>
/// <param name="ActionId">The button the customer taps (WhatsApp), instead of typing.</param>
/// <param name="InReplyTo">The notification answered (its id), or the provider message id of the message answered
/// (as the mailbox shows it); without it, the latest message to <paramref name="From"/> on the channel.</param>
public sealed record SandboxReplyRequest(string? Channel, string? From, string? Text, string? ActionId, string? InReplyTo);

/// <summary>Resolves a notification id to the provider message id of its latest send on a channel. Herald registers
/// one when it embeds the sandbox; the standalone sandbox knows no notification ids (give the provider message id).</summary>
public interface ISandboxReplyReferences
{
    Task<string?> ProviderMessageIdAsync(Guid notificationId, string channel, CancellationToken ct);
}

internal sealed class NoReplyReferences : ISandboxReplyReferences
{
    public Task<string?> ProviderMessageIdAsync(Guid notificationId, string channel, CancellationToken ct) => Task.FromResult<string?>(null);
}

/// <summary>
/// Simulated customers answering: the matching simulator posts the vendor's inbound webhook to Herald, signed as the
/// vendor signs it. WhatsApp: a Cloud API <c>messages</c> webhook (<c>interactive.button_reply</c> for a tapped reply
/// button, <c>button</c> for a template's quick reply, <c>text</c> otherwise; <c>context.id</c> the answered wamid)
/// signed with <c>X-Hub-Signature-256</c> (the number's app secret) to the status webhooks' URL. SMS: Twilio's
/// incoming message webhook (form-encoded <c>MessageSid</c>, <c>From</c>, <c>To</c>, <c>Body</c>, <c>SmsStatus=received</c>)
/// signed with <c>X-Twilio-Signature</c> (the sending account's auth token) to the URL its status callbacks went to.
/// Telegram: a Bot API Update (<c>callback_query</c> for a pressed key, <c>message</c> with <c>reply_to_message</c> for
/// text) with the bot's secret token header, to Herald's <c>/callbacks/telegram/{secret}</c>.
/// </summary>
public sealed class SandboxReplies(
    SandboxMailbox mailbox,
    WhatsAppWebhookDispatcher whatsAppWebhooks,
    WhatsAppSimulator whatsApp,
    ISandboxCallbackSecrets secrets,
    ISandboxReplyReferences references,
    IOptions<SandboxOptions> options,
    IServiceProvider services,
    TimeProvider time) : IDisposable
{
    // Loopback only (Herald's own callback routes), like the simulators' callback dispatchers.
    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(1) }) { Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose() => _http.Dispose();

    /// <summary>Answers the reply's outcome: 202 with Herald's answer status, or a problem.</summary>
    public async Task<IResult> ReplyAsync(SandboxReplyRequest? request, CancellationToken ct)
    {
        if (Validate(request) is { } invalid)
        {
            return invalid;
        }

        var reference = request!.InReplyTo;
        if (reference is not null && Guid.TryParse(reference, out var notificationId))
        {
            reference = await references.ProviderMessageIdAsync(notificationId, request.Channel!, ct).ConfigureAwait(false);
            if (reference is null)
            {
                return Problem(StatusCodes.Status404NotFound, "No sent message of that notification on that channel.", [("/inReplyTo", "Unknown here.")]);
            }
        }

        var answered = mailbox.Find(request.Channel, request.From)
            // Telegram names a sent message chat:message_id, its mailbox by message_id alone.
            .Where(m => reference is null || m.ProviderMessageId == reference || m.To + ":" + m.ProviderMessageId == reference)
            .MaxBy(static m => m.Time);
        if (answered is null)
        {
            return Problem(StatusCodes.Status404NotFound, "The sandbox sent no such message to that customer.", [("/inReplyTo", "No message to answer.")]);
        }

        return await SendAsync(request, answered, ct).ConfigureAwait(false);
    }

    /// <summary>Answers <paramref name="answered"/>, a message the caller already picked from the mailbox (Herald's
    /// tenant-scoped bridge picks only among its tenant's own messages): 202 with Herald's answer status, or a problem.</summary>
    public async Task<IResult> ReplyToAsync(SandboxReplyRequest? request, SandboxMessage answered, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(answered);
        return Validate(request) ?? await SendAsync(request!, answered, ct).ConfigureAwait(false);
    }

    private static IResult? Validate(SandboxReplyRequest? request)
    {
        var errors = new List<(string, string)>();
        if (request?.Channel is not ("whatsapp" or "telegram" or "sms"))
        {
            errors.Add(("/channel", "Must be \"whatsapp\", \"telegram\" or \"sms\"."));
        }

        if (string.IsNullOrWhiteSpace(request?.From))
        {
            errors.Add(("/from", "Required: the customer's number the answered message went to."));
        }

        if (string.IsNullOrEmpty(request?.Text) == string.IsNullOrEmpty(request?.ActionId))
        {
            errors.Add(("/text", "Give either text (typed) or actionId (a tapped button)."));
        }
        else if (request!.ActionId is not null && request.Channel == "sms")
        {
            errors.Add(("/actionId", "An SMS has no buttons: the customer types text."));
        }

        return errors.Count > 0 ? Problem(StatusCodes.Status400BadRequest, "The reply is invalid.", errors) : null;
    }

    private async Task<IResult> SendAsync(SandboxReplyRequest request, SandboxMessage answered, CancellationToken ct)
    {
        using var http = request.Channel switch
        {
            "whatsapp" => WhatsApp(request, answered),
            "telegram" => Telegram(request, answered),
            _ => Sms(request, answered),
        };
        if (http is null)
        {
            return Problem(StatusCodes.Status409Conflict, "Herald's callback address or signing secret is not known yet.", []);
        }

        using var response = await _http.SendAsync(http, ct).ConfigureAwait(false);
        return Results.Json(new { heraldStatus = (int)response.StatusCode, answered = answered.ProviderMessageId }, statusCode: StatusCodes.Status202Accepted);
    }

    private HttpRequestMessage? WhatsApp(SandboxReplyRequest request, SandboxMessage answered)
    {
        if (whatsAppWebhooks.CallbackUrl is not { } url || secrets.WhatsAppAppSecret(answered.Account) is not { Length: > 0 } appSecret)
        {
            return null;
        }

        var digits = new string([.. request.From!.Where(char.IsAsciiDigit)]);
        // The customer wrote to this business number: its customer-service window opens (Meta's rule, magic 0005).
        whatsApp.CustomerWrote(answered.Account, digits, time.GetUtcNow());
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            // The shape of Meta's "messages" webhook reference (text, button, interactive.button_reply).
            w.WriteStartObject();
            w.WriteString("object", "whatsapp_business_account");
            w.WriteStartArray("entry");
            w.WriteStartObject();
            w.WriteString("id", "sandbox-waba");
            w.WriteStartArray("changes");
            w.WriteStartObject();
            w.WriteStartObject("value");
            w.WriteString("messaging_product", "whatsapp");
            w.WriteStartObject("metadata");
            w.WriteString("display_phone_number", "15550783881");
            w.WriteString("phone_number_id", answered.Account);
            w.WriteEndObject();
            w.WriteStartArray("contacts");
            w.WriteStartObject();
            w.WriteStartObject("profile");
            w.WriteString("name", "Sandbox Customer");
            w.WriteEndObject();
            w.WriteString("wa_id", digits);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteStartArray("messages");
            w.WriteStartObject();
            w.WriteStartObject("context");
            w.WriteString("from", "15550783881");
            w.WriteString("id", answered.ProviderMessageId);
            w.WriteEndObject();
            w.WriteString("from", digits);
            w.WriteString("id", "wamid.sandbox-in-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)));
            w.WriteString("timestamp", time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
            if (request.ActionId is { } actionId)
            {
                var title = answered.Buttons?.FirstOrDefault(b => b.Id == actionId)?.Title ?? actionId;
                if (answered.Buttons is not null)
                {
                    w.WriteString("type", "interactive");
                    w.WriteStartObject("interactive");
                    w.WriteString("type", "button_reply");
                    w.WriteStartObject("button_reply");
                    w.WriteString("id", actionId);
                    w.WriteString("title", title);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                else
                {
                    // A template's quick-reply button: its payload and text.
                    w.WriteString("type", "button");
                    w.WriteStartObject("button");
                    w.WriteString("payload", actionId);
                    w.WriteString("text", title);
                    w.WriteEndObject();
                }
            }
            else
            {
                w.WriteString("type", "text");
                w.WriteStartObject("text");
                w.WriteString("body", request.Text);
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteString("field", "messages");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }

        var body = buffer.WrittenSpan.ToArray();
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        message.Headers.TryAddWithoutValidation("X-Hub-Signature-256", WhatsAppWebhookDispatcher.Sign(Encoding.UTF8.GetBytes(appSecret), body));
        return message;
    }

    /// <summary>A Bot API Update posted to Herald's webhook with the bot's <c>X-Telegram-Bot-Api-Secret-Token</c>: a
    /// <c>callback_query</c> (the key pressed under the answered message) or a <c>message</c> replying to it.</summary>
    private HttpRequestMessage? Telegram(SandboxReplyRequest request, SandboxMessage answered)
    {
        if (HeraldBaseUrl.Resolve(options.Value, services) is not { } baseUrl || secrets.TelegramWebhookSecret(answered.Account) is not { Length: > 0 } secret)
        {
            return null;
        }

        var chatId = long.Parse(request.From!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        var answeredId = long.Parse(answered.ProviderMessageId, CultureInfo.InvariantCulture);
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var updateId = RandomNumberGenerator.GetInt32(1, int.MaxValue);
        var chat = new { id = chatId, first_name = "Sandbox", last_name = "Customer", type = "private" };
        var keyboardMessage = new { message_id = answeredId, date = answered.Time.ToUnixTimeSeconds(), chat, text = answered.Text };
        object update = request.ActionId is { } actionId
            ? new
            {
                update_id = updateId,
                callback_query = new
                {
                    id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
                    from = new { id = chatId, is_bot = false, first_name = "Sandbox" },
                    message = keyboardMessage,
                    chat_instance = "sandbox",
                    data = actionId,
                },
            }
            : new
            {
                update_id = updateId,
                message = new
                {
                    message_id = RandomNumberGenerator.GetInt32(1_000_000, int.MaxValue),
                    from = new { id = chatId, is_bot = false, first_name = "Sandbox" },
                    chat,
                    date = now,
                    text = request.Text,
                    reply_to_message = keyboardMessage,
                },
            };
        var message = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/callbacks/telegram/" + Uri.EscapeDataString(secret))
        {
            Content = new StringContent(JsonSerializer.Serialize(update), Encoding.UTF8, "application/json"),
        };
        message.Headers.TryAddWithoutValidation("X-Telegram-Bot-Api-Secret-Token", secret);
        return message;
    }

    private static HttpRequestMessage? Sms(SandboxReplyRequest request, SandboxMessage answered)
    {
        if (answered.ReplyRoute is not { } route)
        {
            return null;
        }

        List<KeyValuePair<string, string>> form =
        [
            new("MessageSid", "SM" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))),
            new("AccountSid", answered.Account),
            new("From", answered.To),
            new("To", route.From),
            new("Body", request.Text!),
            new("NumMedia", "0"),
            new("NumSegments", "1"),
            new("SmsStatus", "received"),
            new("ApiVersion", "2010-04-01"),
        ];
        var message = new HttpRequestMessage(HttpMethod.Post, route.Url) { Content = new FormUrlEncodedContent(form) };
        message.Headers.TryAddWithoutValidation(TwilioCallbackDispatcher.SignatureHeader, TwilioCallbackDispatcher.Sign(route.Url, form, route.AuthToken));
        return message;
    }

    private static IResult Problem(int status, string title, IReadOnlyList<(string Pointer, string Detail)> errors) =>
        Results.Json(
            new { type = "about:blank", title, status, errors = errors.Select(static e => new { pointer = e.Pointer, detail = e.Detail }) },
            statusCode: status,
            contentType: "application/problem+json");
}
