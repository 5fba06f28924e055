using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Channels.WhatsApp;

namespace Herald.Channels.Telegram;

/// <summary>One Bot API <c>Update</c> (https://core.telegram.org/bots/api#update): its id and which optional field it
/// carries (<c>message</c>, <c>edited_message</c>, <c>callback_query</c>, <c>my_chat_member</c>, ...).</summary>
public sealed record TelegramUpdate(long UpdateId, string? Kind);

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

    /// <summary>The key a webhook secret is looked up by (hex SHA-256): a routing table holds no secret in clear.</summary>
    public static string SecretKey(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>
    /// Reads an <c>Update</c> as Telegram POSTs it to a webhook (setWebhook): a JSON object with an integer
    /// <c>update_id</c> and at most one of the optional fields. Nothing of its content is kept: two-way messaging will
    /// build on this.
    /// </summary>
    /// <exception cref="InvalidWebhookPayloadException">Not an Update.</exception>
    public static TelegramUpdate ParseUpdate(ReadOnlySpan<byte> body)
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

            return new TelegramUpdate(updateId, kind);
        }
        catch (JsonException e)
        {
            throw new InvalidWebhookPayloadException("the body is not JSON: " + e.Message, e);
        }
    }
}
