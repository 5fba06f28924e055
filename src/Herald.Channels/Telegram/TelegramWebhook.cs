using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Channels.WhatsApp;
using Herald.Core.Notifications;

namespace Herald.Channels.Telegram;

/// <summary>One Bot API <c>Update</c> (https://core.telegram.org/bots/api#update): its id and which optional field it
/// carries (<c>message</c>, <c>edited_message</c>, <c>callback_query</c>, <c>my_chat_member</c>, ...).</summary>
public sealed record TelegramUpdate(long UpdateId, string? Kind)
{
    /// <summary>What the customer sent (issue #16): a <c>message</c> with text, or a <c>callback_query</c> (an inline
    /// keyboard key pressed); null for every other update.</summary>
    public InboundMessage? Message { get; init; }
}

/// <summary>Pure helpers for Telegram's webhook callbacks.</summary>
public static class TelegramWebhook
{
    public const string SecretHeader = "X-Telegram-Bot-Api-Secret-Token";

    /// <summary>Compares <c>X-Telegram-Bot-Api-Secret-Token</c> with the configured secret in constant time.
    /// An empty expected secret never matches.</summary>
    public static bool VerifySecret(string? headerValue, string expected)
    {
        if (headerValue is null || string.IsNullOrEmpty(expected))
        {
            return false;
        }

        // Over hashes, so neither the length nor the content of the secret shows in the time taken.
        return CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(headerValue)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
    }

    private static InboundMessage? ReadMessage(JsonElement root, string? kind, DateTimeOffset now)
    {
        if (kind == "message" && root.GetProperty("message") is var m
            && ChatId(m) is { } chat && Long(m, "message_id") is { } messageId
            && m.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
        {
            var at = Long(m, "date") is { } date and >= 0 and <= 253402300799 ? DateTimeOffset.FromUnixTimeSeconds(date) : now;
            var replyTo = m.TryGetProperty("reply_to_message", out var r) && r.ValueKind == JsonValueKind.Object && Long(r, "message_id") is { } answered
                ? Reference(chat, answered)
                : null;
            return new InboundMessage(Channel.Telegram, chat, Reference(chat, messageId), at) { Text = text.GetString(), InReplyTo = replyTo };
        }

        if (kind == "callback_query" && root.GetProperty("callback_query") is var q
            && q.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
            && q.TryGetProperty("message", out var keyboard) && keyboard.ValueKind == JsonValueKind.Object
            && ChatId(keyboard) is { } keyboardChat && Long(keyboard, "message_id") is { } keyboardId
            && q.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.String)
        {
            return new InboundMessage(Channel.Telegram, keyboardChat, "callback:" + id.GetString(), now)
            {
                ActionId = data.GetString(),
                InReplyTo = Reference(keyboardChat, keyboardId),
                CallbackQueryId = id.GetString(),
            };
        }

        return null;
    }

    /// <summary>How the connector names a sent message (<c>chat:message</c>): the reference a reply is matched by.</summary>
    private static string Reference(string chat, long messageId) => chat + ":" + messageId.ToString(CultureInfo.InvariantCulture);

    private static string? ChatId(JsonElement message) =>
        message.TryGetProperty("chat", out var chat) && chat.ValueKind == JsonValueKind.Object && Long(chat, "id") is { } id
            ? id.ToString(CultureInfo.InvariantCulture)
            : null;

    private static long? Long(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt64(out var value) ? value : null;

    /// <summary>The key a webhook secret is looked up by (hex SHA-256): a routing table holds no secret in clear.</summary>
    public static string SecretKey(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>
    /// Reads an <c>Update</c> as Telegram POSTs it to a webhook (setWebhook): a JSON object with an integer
    /// <c>update_id</c> and at most one of the optional fields. Nothing of its content is kept: two-way messaging will
    /// build on this.
    /// </summary>
    /// <exception cref="InvalidWebhookPayloadException">Not an Update.</exception>
    public static TelegramUpdate ParseUpdate(ReadOnlySpan<byte> body) => ParseUpdate(body, DateTimeOffset.UnixEpoch);

    /// <summary>As <see cref="ParseUpdate(ReadOnlySpan{byte})"/>, reading a customer's <c>message</c> (text, and
    /// <c>reply_to_message</c> naming ours) or <c>callback_query</c> (data, and the keyboard's message) into
    /// <see cref="TelegramUpdate.Message"/>; <paramref name="now"/> times a callback query, which carries no date.</summary>
    public static TelegramUpdate ParseUpdate(ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64 });
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("update_id", out var id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt64(out var updateId))
            {
                throw new InvalidWebhookPayloadException("an Update needs an integer update_id");
            }

            string? kind = null;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name != "update_id" && property.Value.ValueKind == JsonValueKind.Object)
                {
                    kind = property.Name;
                    break;
                }
            }

            return new TelegramUpdate(updateId, kind) { Message = ReadMessage(root, kind, now) };
        }
        catch (JsonException e)
        {
            throw new InvalidWebhookPayloadException("the body is not JSON: " + e.Message, e);
        }
    }
}
