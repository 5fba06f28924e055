using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Core.Delivery;

namespace Herald.Channels.WhatsApp;

/// <summary>A status receipt together with the business phone number (account) it was reported for.</summary>
public sealed record WhatsAppReceipt(string? PhoneNumberId, ProviderReceipt Receipt);

/// <summary>What one webhook POST reported about messages we sent.</summary>
/// <param name="PhoneNumberIds">Distinct <c>metadata.phone_number_id</c> values of the batch, in order of appearance.</param>
public sealed record WhatsAppStatusBatch(IReadOnlyList<string> PhoneNumberIds, IReadOnlyList<WhatsAppReceipt> Receipts)
{
    /// <summary>What customers sent (<c>value.messages[]</c>), each with the business number it was sent to.</summary>
    public IReadOnlyList<(string? PhoneNumberId, InboundMessage Message)> Messages { get; init; } = [];
}

/// <summary>A callback body that is not the JSON shape Meta sends; the endpoint answers 400.</summary>
public sealed class InvalidWebhookPayloadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Pure helpers for Meta's WhatsApp webhooks: signature, verification handshake, status parsing.</summary>
public static class WhatsAppWebhook
{
    public const string SignatureHeader = "X-Hub-Signature-256";
    private const string SignaturePrefix = "sha256=";

    /// <summary>
    /// Checks <c>X-Hub-Signature-256: sha256=&lt;hex HMAC-SHA256 of the raw body keyed with the app secret&gt;</c>
    /// in constant time. Must run on the exact bytes received, before any parsing or re-encoding.
    /// </summary>
    public static bool VerifySignature(ReadOnlySpan<byte> body, string? signatureHeader, string appSecret)
    {
        if (string.IsNullOrEmpty(appSecret) || signatureHeader is null)
        {
            return false;
        }

        var header = signatureHeader.AsSpan().Trim();
        if (!header.StartsWith(SignaturePrefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var hex = header[SignaturePrefix.Length..];
        if (hex.Length != HMACSHA256.HashSizeInBytes * 2)
        {
            return false;
        }

        Span<byte> given = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (Convert.FromHexString(hex, given, out _, out var written) != System.Buffers.OperationStatus.Done || written != given.Length)
        {
            return false;
        }

        var keyLength = Encoding.UTF8.GetByteCount(appSecret);
        Span<byte> key = keyLength <= 256 ? stackalloc byte[keyLength] : new byte[keyLength];
        Encoding.UTF8.GetBytes(appSecret, key);
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, body, expected);
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    /// <summary>
    /// The verification handshake (<c>GET ?hub.mode=subscribe&amp;hub.verify_token=..&amp;hub.challenge=..</c>): the
    /// challenge to echo with 200 when the mode is subscribe and the token matches, else null (answer 403).
    /// </summary>
    public static string? VerifyHandshake(string? mode, string? verifyToken, string? challenge, string expectedVerifyToken)
    {
        if (!string.Equals(mode, "subscribe", StringComparison.Ordinal)
            || string.IsNullOrEmpty(expectedVerifyToken) || verifyToken is null || challenge is null)
        {
            return null;
        }

        var given = Encoding.UTF8.GetBytes(verifyToken);
        var expected = Encoding.UTF8.GetBytes(expectedVerifyToken);
        return CryptographicOperations.FixedTimeEquals(given, expected) ? challenge : null;
    }

    /// <summary>
    /// The status receipts of a <c>whatsapp_business_account</c> webhook body
    /// (<c>entry[].changes[].value.statuses[]</c>). Inbound <c>messages</c>, unknown fields and unknown status values
    /// (e.g. <c>deleted</c>, <c>warning</c>) are ignored.
    /// </summary>
    /// <exception cref="InvalidWebhookPayloadException">The body is not JSON or not the webhook's shape.</exception>
    public static WhatsAppStatusBatch Parse(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new InvalidWebhookPayloadException("webhook body is not valid JSON", e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidWebhookPayloadException("webhook body is not a JSON object");
            }

            if (!root.TryGetProperty("entry", out var entries) || entries.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidWebhookPayloadException("webhook body has no entry array");
            }

            var phoneNumberIds = new List<string>();
            var receipts = new List<WhatsAppReceipt>();
            var messages = new List<(string?, InboundMessage)>();
            foreach (var entry in entries.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("changes", out var changes) || changes.ValueKind != JsonValueKind.Array)
                {
                    continue;
                }

                foreach (var change in changes.EnumerateArray())
                {
                    if (change.ValueKind != JsonValueKind.Object || !change.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.Object)
                    {
                        continue;
                    }

                    var phoneNumberId = value.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
                        ? String(metadata, "phone_number_id")
                        : null;
                    if (phoneNumberId is not null && !phoneNumberIds.Contains(phoneNumberId))
                    {
                        phoneNumberIds.Add(phoneNumberId);
                    }

                    if (value.TryGetProperty("messages", out var inbound) && inbound.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var message in inbound.EnumerateArray())
                        {
                            if (ParseMessage(message) is { } parsed)
                            {
                                messages.Add((phoneNumberId, parsed));
                            }
                        }
                    }

                    if (!value.TryGetProperty("statuses", out var statuses) || statuses.ValueKind != JsonValueKind.Array)
                    {
                        continue;
                    }

                    foreach (var status in statuses.EnumerateArray())
                    {
                        if (ParseStatus(status) is { } receipt)
                        {
                            receipts.Add(new WhatsAppReceipt(phoneNumberId, receipt));
                        }
                    }
                }
            }

            return new WhatsAppStatusBatch(phoneNumberIds, receipts) { Messages = messages };
        }
    }

    /// <summary>
    /// One inbound message of the Cloud API's <c>messages</c> webhook: <c>text</c> (text.body), <c>button</c> (a template's
    /// quick reply: button.payload, button.text) and <c>interactive</c> (button_reply or list_reply: id, title), with
    /// <c>context.id</c> naming the message answered. Other types (media, reactions, locations) are not replies Herald
    /// reads: they are ignored, and the webhook is still taken.
    /// </summary>
    private static InboundMessage? ParseMessage(JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object || String(message, "id") is not { Length: > 0 } id
            || String(message, "from") is not { Length: > 0 } from)
        {
            return null;
        }

        var at = message.TryGetProperty("timestamp", out var ts) ? UnixSeconds(ts) : null;
        if (at is null)
        {
            throw new InvalidWebhookPayloadException($"message {id} has no valid timestamp");
        }

        string? text = null;
        string? actionId = null;
        switch (String(message, "type"))
        {
            case "text" when message.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.Object:
                text = String(t, "body");
                break;
            case "button" when message.TryGetProperty("button", out var b) && b.ValueKind == JsonValueKind.Object:
                text = String(b, "text");
                actionId = String(b, "payload");
                break;
            case "interactive" when message.TryGetProperty("interactive", out var i) && i.ValueKind == JsonValueKind.Object:
                var kind = String(i, "type");
                if (kind is "button_reply" or "list_reply" && i.TryGetProperty(kind, out var reply) && reply.ValueKind == JsonValueKind.Object)
                {
                    actionId = String(reply, "id");
                    text = String(reply, "title");
                }

                break;
        }

        if (text is null && actionId is null)
        {
            return null;
        }

        var context = message.TryGetProperty("context", out var c) && c.ValueKind == JsonValueKind.Object ? String(c, "id") : null;
        // wa_id is the number without '+'; Herald keeps numbers in E.164.
        var phone = from.StartsWith('+') ? from : "+" + from;
        return new InboundMessage(Core.Notifications.Channel.WhatsApp, phone, id, at.Value)
        {
            Text = text,
            ActionId = actionId,
            InReplyTo = context,
        };
    }

    private static ProviderReceipt? ParseStatus(JsonElement status)
    {
        if (status.ValueKind != JsonValueKind.Object || String(status, "id") is not { Length: > 0 } wamid)
        {
            return null;
        }

        ReceiptState? state = String(status, "status") switch
        {
            "sent" => ReceiptState.Sent,
            "delivered" => ReceiptState.Delivered,
            "read" => ReceiptState.Read,
            "failed" => ReceiptState.Failed,
            _ => null,
        };
        if (state is null)
        {
            return null;
        }

        var at = status.TryGetProperty("timestamp", out var ts) ? UnixSeconds(ts) : null;
        if (at is null)
        {
            throw new InvalidWebhookPayloadException($"status of {wamid} has no valid timestamp");
        }

        string? errorCode = null;
        string? error = null;
        if (status.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array && errors.GetArrayLength() > 0
            && errors[0].ValueKind == JsonValueKind.Object)
        {
            var first = errors[0];
            var rawCode = first.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.Number
                ? code.GetRawText()
                : String(first, "code");
            // The code, not Meta's title or message: an attempt's error is Herald's words (see ProviderErrors).
            errorCode = rawCode is null ? null : ProviderErrors.SafeCode(rawCode);
            error = errorCode is null ? "WhatsApp reported the message failed" : $"WhatsApp reported the message failed (error {errorCode})";
        }

        return new ProviderReceipt(wamid, state.Value, at.Value, errorCode, error);
    }

    private static DateTimeOffset? UnixSeconds(JsonElement value)
    {
        long seconds;
        if (value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            seconds = parsed;
        }
        else if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number))
        {
            seconds = number;
        }
        else
        {
            return null;
        }

        return seconds is >= 0 and <= 253402300799 ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
    }

    private static string? String(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
}
