using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace Herald.Core.Notifications;

/// <summary>
/// What makes two requests "the same" for an idempotency key: every field of the notification as the bank sent it
/// (before stored customers, rules or preferences shaped it), its data compacted (whitespace between tokens does not
/// count; key order and values do). Stored with the dedupe key; a repeat with another fingerprint is refused (422).
/// </summary>
public static class RequestFingerprint
{
    /// <summary>SHA-256 of the canonical request.</summary>
    public static byte[] Of(NewNotification n)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + n.DataJson.Length);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            w.WriteStringValue(n.SourceId?.ToString("N"));
            w.WriteStringValue(n.Type);
            w.WriteStringValue(n.CustomerId);
            w.WriteStringValue(n.Contacts.Phone);
            w.WriteStringValue(n.Contacts.TelegramChatId);
            w.WriteStringValue(n.Contacts.Email);
            w.WriteStringValue(n.Contacts.PushToken);
            w.WriteStringValue(n.Contacts.Language);
            w.WriteStringValue(n.RequestedPriority?.ToString());
            w.WriteStringValue(n.RequestedChannels is { } channels ? string.Join(',', channels) : null);
            w.WriteStringValue(n.ExpiresAt?.UtcTicks.ToString(CultureInfo.InvariantCulture));
            w.WriteStringValue(n.ExternalId);
            // Written only when given, so the fingerprints of requests without reply actions stay what they were.
            if (n.Actions.Count > 0 || n.ReplyTtl is not null)
            {
                w.WriteStringValue(string.Join('\n', n.Actions.Select(a => a.Id + "=" + a.Title)));
                w.WriteStringValue(n.ReplyTtl?.Ticks.ToString(CultureInfo.InvariantCulture));
            }

            try
            {
                using var data = JsonDocument.Parse(string.IsNullOrWhiteSpace(n.DataJson) ? "{}" : n.DataJson);
                data.RootElement.WriteTo(w);
            }
            catch (JsonException)
            {
                w.WriteStringValue(n.DataJson);
            }

            w.WriteEndArray();
        }

        return SHA256.HashData(buffer.WrittenSpan);
    }
}
