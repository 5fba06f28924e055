using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;

namespace Herald.Channels.Telegram;

/// <summary>
/// Sends through the Telegram Bot API: <c>POST {baseUrl}/bot{token}/sendMessage {chat_id, text}</c>. The Bot API has
/// no delivery receipts: <c>ok: true</c> means the message is in the chat, so success is
/// <see cref="SendOutcomeKind.Delivered"/>.
/// </summary>
public sealed class TelegramBotConnector(IHttpClientFactory httpClients, TimeProvider time) : IChannelConnector, IInboundAcknowledger
{
    public const string ConnectorKind = "telegram-bot";

    /// <summary>How errors name the far end.</summary>
    internal const string Api = "Telegram Bot API";

    private readonly AccountSettingsCache<TelegramSettings> _settings = new(TelegramSettings.Parse);

    public string Kind => ConnectorKind;

    public Channel Channel => Channel.Telegram;

    public async Task<SendOutcome> SendAsync(OutboundMessage message, ProviderAccount account, CancellationToken ct)
    {
        var settings = _settings.Get(account, out var settingsError);
        if (settings is null)
        {
            return AccountSettings.Unusable(settingsError);
        }

        if (string.IsNullOrWhiteSpace(message.To))
        {
            return SendOutcome.Permanent("invalid_address", "chat id is empty");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, settings.SendMessageUri);
        var body = new ByteArrayContent(WriteBody(message));
        body.Headers.ContentType = ConnectorHttp.Json;
        request.Content = body;

        return await ConnectorHttp.SendAsync(
            httpClients.CreateClient(ChannelHttpClients.Telegram), request, r => ReadAsync(r, message.To, ct), Api, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>answerCallbackQuery</c> for a pressed inline keyboard key (Bot API: clients show a progress bar until the bot
    /// answers): with a short notice that the answer was received. Other inbound messages need no acknowledgement.
    /// </summary>
    public async Task AcknowledgeAsync(ProviderAccount account, InboundMessage message, CancellationToken ct)
    {
        if (message.CallbackQueryId is not { } queryId || _settings.Get(account, out _) is not { } settings)
        {
            return;
        }

        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("callback_query_id", queryId);
            w.WriteString("text", "✓");
            w.WriteEndObject();
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, settings.AnswerCallbackQueryUri);
        var body = new ByteArrayContent(buffer.WrittenSpan.ToArray());
        body.Headers.ContentType = ConnectorHttp.Json;
        request.Content = body;
        using var response = await httpClients.CreateClient(ChannelHttpClients.Telegram).SendAsync(request, ct).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    private async Task<SendOutcome> ReadAsync(HttpResponseMessage response, string to, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var doc = await ConnectorHttp.TryReadJsonAsync(response, ct).ConfigureAwait(false);
        if (doc is null)
        {
            return response.IsSuccessStatusCode
                ? SendOutcome.Transient("malformed_response", $"HTTP {status} with a body that is not JSON")
                : Map(status, ConnectorHttp.RetryAfter(response, time));
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("ok", out var ok) || ok.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return response.IsSuccessStatusCode
                    ? SendOutcome.Transient("malformed_response", $"HTTP {status} without an ok field")
                    : Map(status, ConnectorHttp.RetryAfter(response, time));
            }

            if (ok.ValueKind == JsonValueKind.True)
            {
                if (root.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.Object
                    && result.TryGetProperty("message_id", out var id) && id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out var messageId))
                {
                    var chatId = result.TryGetProperty("chat", out var chat) && chat.ValueKind == JsonValueKind.Object
                        && chat.TryGetProperty("id", out var cid) && cid.ValueKind == JsonValueKind.Number
                        ? cid.GetRawText()
                        : to;
                    return new SendOutcome(SendOutcomeKind.Delivered, ProviderMessageId: $"{chatId}:{messageId.ToString(CultureInfo.InvariantCulture)}");
                }

                return SendOutcome.Transient("malformed_response", "ok: true without result.message_id");
            }

            var errorCode = root.TryGetProperty("error_code", out var ec) && ec.ValueKind == JsonValueKind.Number && ec.TryGetInt32(out var eci) ? eci : status;
            TimeSpan? retryAfter = root.TryGetProperty("parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object
                && parameters.TryGetProperty("retry_after", out var ra) && ra.ValueKind == JsonValueKind.Number && ra.TryGetInt32(out var seconds) && seconds >= 0
                ? TimeSpan.FromSeconds(seconds)
                : ConnectorHttp.RetryAfter(response, time);
            return Map(errorCode, retryAfter);
        }
    }

    /// <summary>Bot API errors by <c>error_code</c> (the HTTP status it mirrors). The description is the far end's
    /// text and is not kept (see <see cref="ProviderErrors"/>).</summary>
    internal static SendOutcome Map(int errorCode, TimeSpan? retryAfter)
    {
        var code = errorCode.ToString(CultureInfo.InvariantCulture);
        var (cls, pause) = errorCode switch
        {
            // Flood control: parameters.retry_after says how long to wait.
            429 => (ProviderErrorClass.Throttled, retryAfter ?? TimeSpan.FromSeconds(1)),
            // 401 Unauthorized / 404 Not Found are what the Bot API answers for a wrong or revoked token: the
            // account is broken, not the message. Transient so the breaker opens and traffic moves (as WhatsApp 190).
            401 or 404 => (ProviderErrorClass.AccountFault, retryAfter ?? TimeSpan.FromSeconds(30)),
            // Forbidden: bot was blocked by the user / user is deactivated / bot was kicked / can't initiate
            // conversation. The customer cannot get this bot's messages: next channel.
            403 => (ProviderErrorClass.Permanent, (TimeSpan?)null),
            // Bad Request: chat not found, message text is empty, chat migrated, ... Resending the same request
            // gives the same answer.
            400 => (ProviderErrorClass.Permanent, null),
            >= 500 => (ProviderErrorClass.Transient, retryAfter),
            // 409 (webhook vs getUpdates conflict) and other 4xx never concern this message's content.
            409 => (ProviderErrorClass.Transient, retryAfter),
            >= 400 => (ProviderErrorClass.Permanent, null),
            _ => (ProviderErrorClass.Transient, retryAfter),
        };
        return ProviderErrors.Outcome(cls, pause, code, Api, null);
    }

    internal static byte[] WriteBody(OutboundMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + message.Text.Length * 2);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            // Numeric ids go as numbers, @channelusername as a string; the Bot API accepts both forms.
            if (long.TryParse(message.To, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var chatId))
            {
                w.WriteNumber("chat_id", chatId);
            }
            else
            {
                w.WriteString("chat_id", message.To);
            }

            w.WriteString("text", message.Text);
            if (message.Actions.Count > 0)
            {
                // An inline keyboard, one button per row (Bot API InlineKeyboardMarkup): the pressed button's
                // callback_data (1-64 bytes; an action id is at most 32 ASCII characters) comes back in a callback_query
                // update whose message is this one, which correlates the reply.
                w.WriteStartObject("reply_markup");
                w.WriteStartArray("inline_keyboard");
                foreach (var action in message.Actions)
                {
                    w.WriteStartArray();
                    w.WriteStartObject();
                    w.WriteString("text", action.Title);
                    w.WriteString("callback_data", action.Id);
                    w.WriteEndObject();
                    w.WriteEndArray();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
