using System.Globalization;
using System.Net.Mail;
using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.Core.Notifications;
using PhoneNumbers;

namespace Herald.Ingest.Native;

/// <summary>Turns native JSON into a validated <see cref="NewNotification"/>, or located errors. Pure; thread-safe.</summary>
public static partial class NotificationParser
{
    public const int MaxTypeLength = 64;
    public const int MaxDataBytes = 16 * 1024;
    public const int MaxKeyLength = 128;

    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();

    /// <summary>Parses one notification from raw JSON.</summary>
    /// <param name="pointerPrefix">Prefix for error pointers, e.g. "/items/3" inside a batch.</param>
    public static (NewNotification? Notification, IReadOnlyList<InputError> Errors) Parse(
        ReadOnlySpan<byte> json, Guid tenantId, Guid? sourceId, string? idempotencyKey, string pointerPrefix = "")
    {
        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            // The serializer lets invalid bytes inside a string through and fails only when the value is read as text.
            return (null, [new InputError(pointerPrefix == "" ? "/" : pointerPrefix, "The JSON is not valid UTF-8.")]);
        }

        if (StorableText.Find(json, pointerPrefix) is { } unstorable)
        {
            return (null, [unstorable]);
        }

        NotificationRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(json, NativeJsonContext.Default.NotificationRequest);
        }
        catch (JsonException e)
        {
            return (null, [JsonError(e, pointerPrefix)]);
        }

        return request is null
            ? (null, [new InputError(pointerPrefix == "" ? "/" : pointerPrefix, "A JSON object is required.")])
            : Validate(request, tenantId, sourceId, idempotencyKey, pointerPrefix);
    }

    /// <summary>Parses one item of a batch: <paramref name="json"/> is the item's bytes within a body that was read
    /// whole, as valid UTF-8 and well-formed JSON (<see cref="BatchBody"/>), so neither is checked again, and the item is
    /// read once for what storage cannot hold and once into the request: no document of its own, no copy.</summary>
    /// <param name="pointerPrefix">The item's pointer, e.g. "/items/3".</param>
    public static (NewNotification? Notification, IReadOnlyList<InputError> Errors) ParseItem(
        ReadOnlySpan<byte> json, Guid tenantId, Guid? sourceId, string pointerPrefix)
    {
        if (json.IsEmpty || json[0] != (byte)'{')
        {
            return (null, [new InputError(pointerPrefix, "A JSON object is required.")]);
        }

        if (StorableText.Find(json, pointerPrefix) is { } unstorable)
        {
            return (null, [unstorable]);
        }

        NotificationRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(json, NativeJsonContext.Default.NotificationRequest);
        }
        catch (JsonException e)
        {
            return (null, [JsonError(e, pointerPrefix)]);
        }

        return Validate(request!, tenantId, sourceId, null, pointerPrefix, dataChecked: true);
    }

    /// <param name="dataChecked">The request's JSON was checked whole by <see cref="StorableText.Find(ReadOnlySpan{byte}, string)"/>,
    /// its data with it.</param>
    public static (NewNotification? Notification, IReadOnlyList<InputError> Errors) Validate(
        NotificationRequest r, Guid tenantId, Guid? sourceId, string? idempotencyKey, string p = "", bool dataChecked = false)
    {
        var errors = new List<InputError>();

        if (string.IsNullOrEmpty(r.Type))
        {
            errors.Add(new(p + "/type", "Required."));
        }
        else if (r.Type.Length > MaxTypeLength || !TypePattern().IsMatch(r.Type))
        {
            errors.Add(new(p + "/type", $"Must be 1 to {MaxTypeLength} characters of a-z, 0-9, '.', '_' or '-', starting with a letter, e.g. \"card.transaction\"."));
        }

        var contacts = ValidateCustomer(r.Customer, p, errors);

        var dataJson = "{}";
        if (r.Data is { } data)
        {
            if (data.ValueKind == JsonValueKind.Object)
            {
                dataJson = data.GetRawText();
                if (dataJson.Length > MaxDataBytes)
                {
                    errors.Add(new(p + "/data", $"Must be at most {MaxDataBytes} bytes of JSON."));
                }
                else if (!dataChecked && StorableText.Find(data, p + "/data") is { } unstorable)
                {
                    errors.Add(unstorable);
                }
            }
            else if (data.ValueKind != JsonValueKind.Null)
            {
                errors.Add(new(p + "/data", "Must be a JSON object of template variables."));
            }
        }

        if (r.Channels is { } channels)
        {
            if (channels.Count == 0)
            {
                errors.Add(new(p + "/channels", "Must name at least one channel, or be left out for the default plan."));
            }
            else if (channels.Distinct().Count() != channels.Count)
            {
                errors.Add(new(p + "/channels", "Must not name a channel twice."));
            }
        }

        if (r.ExternalId is { Length: 0 or > MaxKeyLength })
        {
            errors.Add(new(p + "/externalId", $"Must be 1 to {MaxKeyLength} characters."));
        }
        else if (StorableText.Check(r.ExternalId, p + "/externalId") is { } unstorable)
        {
            errors.Add(unstorable);
        }

        if (idempotencyKey is { Length: 0 or > MaxKeyLength })
        {
            errors.Add(new("header/Idempotency-Key", $"Must be 1 to {MaxKeyLength} characters."));
        }
        else if (StorableText.Check(idempotencyKey, "header/Idempotency-Key") is { } unstorable)
        {
            errors.Add(unstorable);
        }

        var actions = ValidateActions(r.Actions, p, errors);
        TimeSpan? replyTtl = null;
        if (r.ReplyTtl is not null)
        {
            if (!Herald.Core.Rules.Durations.TryParse(r.ReplyTtl, out var ttl) || ttl < ReplyActions.MinTtl || ttl > ReplyActions.MaxTtl)
            {
                errors.Add(new(p + "/replyTtl", "Must be a duration from 1m to 7d, e.g. \"30m\", \"24h\" or \"2d\"."));
            }
            else if (actions.Count == 0)
            {
                errors.Add(new(p + "/replyTtl", "Only with 'actions': it says how long the question stays open."));
            }
            else
            {
                replyTtl = ttl;
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var notification = new NewNotification(
            tenantId,
            sourceId,
            r.Type!,
            r.Customer!.Id,
            contacts!,
            dataJson,
            r.Priority,
            r.Channels,
            r.ExpiresAt?.ToUniversalTime(),
            r.ExternalId,
            idempotencyKey ?? (r.ExternalId is null ? null : "ext:" + r.ExternalId))
        {
            Actions = actions,
            ReplyTtl = replyTtl,
        };
        return (notification, errors);
    }

    private static List<NotificationAction> ValidateActions(IReadOnlyList<ActionRequest?>? requested, string p, List<InputError> errors)
    {
        if (requested is null)
        {
            return [];
        }

        var actions = new List<NotificationAction>(requested.Count);
        var errorsBefore = errors.Count;
        for (var i = 0; i < requested.Count; i++)
        {
            var at = p + "/actions/" + i.ToString(CultureInfo.InvariantCulture);
            if (requested[i] is not { } a)
            {
                errors.Add(new(at, "Must be an object {\"id\": \"...\", \"title\": \"...\"}."));
                continue;
            }

            if (a.Id is null)
            {
                errors.Add(new(at + "/id", "Required."));
            }

            if (a.Title is null)
            {
                errors.Add(new(at + "/title", "Required."));
            }
            else if (StorableText.Check(a.Title, at + "/title") is { } unstorable)
            {
                errors.Add(unstorable);
            }

            actions.Add(new NotificationAction(a.Id ?? "", a.Title ?? ""));
        }

        if (requested.Count == 0)
        {
            errors.Add(new(p + "/actions", "Must name at least one reply choice, or be left out."));
        }

        foreach (var (pointer, detail) in ReplyActions.Check(actions, whatsApp: false))
        {
            if (!errors.Exists(e => e.Pointer == p + "/actions" + pointer))
            {
                errors.Add(new(p + "/actions" + pointer, detail));
            }
        }

        return errors.Count == errorsBefore ? actions : [];
    }

    private static Contacts? ValidateCustomer(CustomerRequest? c, string p, List<InputError> errors)
    {
        if (c is null)
        {
            errors.Add(new(p + "/customer", "Required: the customer's id and/or contacts."));
            return null;
        }

        var errorsBefore = errors.Count;
        if (c.Id is { Length: 0 or > MaxKeyLength })
        {
            errors.Add(new(p + "/customer/id", $"Must be 1 to {MaxKeyLength} characters."));
        }
        else if (StorableText.Check(c.Id, p + "/customer/id") is { } unstorable)
        {
            errors.Add(unstorable);
        }

        string? phone = null;
        if (c.Phone is not null)
        {
            phone = NormalisePhone(c.Phone);
            if (phone is null)
            {
                errors.Add(new(p + "/customer/phone", "Must be a valid phone number in E.164 form, e.g. \"+4915112345678\"."));
            }
        }

        if (c.TelegramChatId is not null && !ChatIdPattern().IsMatch(c.TelegramChatId))
        {
            errors.Add(new(p + "/customer/telegramChatId", "Must be a Telegram chat id: an integer, e.g. \"123456789\"."));
        }

        if (c.Email is not null && (c.Email.Length > 254 || !MailAddress.TryCreate(c.Email, out var mail) || mail.Address != c.Email))
        {
            errors.Add(new(p + "/customer/email", "Must be a plain email address, e.g. \"ana@example.com\"."));
        }

        if (c.PushToken is { Length: 0 or > 4096 })
        {
            errors.Add(new(p + "/customer/pushToken", "Must be 1 to 4096 characters."));
        }
        else if (StorableText.Check(c.PushToken, p + "/customer/pushToken") is { } unstorable)
        {
            errors.Add(unstorable);
        }

        if (StorableText.Check(c.Email, p + "/customer/email") is { } badEmail)
        {
            errors.Add(badEmail);
        }

        if (c.Language is not null && !LanguagePattern().IsMatch(c.Language))
        {
            errors.Add(new(p + "/customer/language", "Must be a BCP 47 language tag, e.g. \"en\" or \"pt-BR\"."));
        }

        // A bare customer id is resolved against the stored customers at ingest (unknown → rejected there); without
        // an id the notification must carry at least one address, or it could never be delivered.
        if (errors.Count == errorsBefore && c.Id is null && phone is null && c.TelegramChatId is null && c.Email is null && c.PushToken is null)
        {
            errors.Add(new(p + "/customer", "A stored customer's id or at least one contact is required: phone, telegramChatId, email or pushToken."));
        }

        return errors.Count == errorsBefore ? new Contacts(phone, c.TelegramChatId, c.Email, c.PushToken, c.Language) : null;
    }

    /// <summary>The number in E.164 form if <paramref name="raw"/> is a valid E.164 number, else null.</summary>
    public static string? NormalisePhone(string raw)
    {
        if (raw.Length is < 3 or > 16 || raw[0] != '+')
        {
            return null;
        }

        try
        {
            var number = Phones.Parse(raw, null);
            if (!Phones.IsValidNumber(number))
            {
                return null;
            }

            var e164 = Phones.Format(number, PhoneNumberFormat.E164);
            return e164 == raw ? e164 : null;
        }
        catch (NumberParseException)
        {
            return null;
        }
    }

    /// <summary>A serializer's refusal as the API's located error: a JSON Pointer (after <paramref name="pointerPrefix"/>)
    /// and a message in the API's terms, never the runtime's type names.</summary>
    public static InputError JsonError(JsonException e, string pointerPrefix = "") => new(pointerPrefix + ToPointer(e.Path), JsonMessage(e));

    private static string ToPointer(string? jsonPath)
    {
        // System.Text.Json reports paths like "$.customer.phone" or "$.channels[1]".
        if (string.IsNullOrEmpty(jsonPath) || jsonPath == "$")
        {
            return "/";
        }

        var pointer = jsonPath.TrimStart('$').Replace("[", ".", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal);
        return string.Join('/', pointer.Split('.').Select(s => s.Replace("'", "", StringComparison.Ordinal)));
    }

    private static string JsonMessage(JsonException e)
    {
        // The runtime's message names CLR types; say it in the API's terms.
        var message = e.Message;
        if (message.Contains("could not be mapped", StringComparison.Ordinal) || message.Contains("unmapped", StringComparison.OrdinalIgnoreCase))
        {
            return "Unknown field.";
        }

        if (message.Contains("could not be converted", StringComparison.Ordinal))
        {
            return "Has the wrong type or an unknown value.";
        }

        return string.Create(CultureInfo.InvariantCulture, $"Malformed JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine}).");
    }

    [GeneratedRegex("^[a-z][a-z0-9_.-]*$")]
    private static partial Regex TypePattern();

    [GeneratedRegex("^-?[0-9]{1,20}$")]
    private static partial Regex ChatIdPattern();

    [GeneratedRegex("^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")]
    private static partial Regex LanguagePattern();
}
