using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.Core.Notifications;
using Herald.Ingest.Native;

namespace Herald.Ingest.Mapped;

/// <summary>
/// A per-source mapping from a bank system's own records (JSON documents, CSV or fixed-width lines) to canonical
/// notifications. Every target field takes a <see cref="FieldSpec"/>: a selector (a JSON Pointer into the record;
/// for files "/" + the column name), optionally with a value map and a default, or a constant.
/// Built only by <see cref="Parse"/>, which validates it; immutable and thread-safe afterwards.
/// </summary>
public sealed partial class FieldMapping
{
    public const int MaxFields = 64;

    private static readonly string[] CustomerFields = ["id", "phone", "telegramChatId", "email", "pushToken", "language"];

    private FieldMapping(
        string? items, FieldSpec type, FieldSpec? externalId, FieldSpec? priority, FieldSpec? expiresAt,
        IReadOnlyList<KeyValuePair<string, FieldSpec>> customer, IReadOnlyList<KeyValuePair<string, FieldSpec>> data)
    {
        Items = items;
        Type = type;
        ExternalId = externalId;
        Priority = priority;
        ExpiresAt = expiresAt;
        Customer = customer;
        Data = data;
    }

    /// <summary>For mapped JSON: a pointer to an array whose elements are mapped one by one (a batch); null maps the whole document.</summary>
    public string? Items { get; }
    public FieldSpec Type { get; }
    public FieldSpec? ExternalId { get; }
    public FieldSpec? Priority { get; }
    public FieldSpec? ExpiresAt { get; }
    public IReadOnlyList<KeyValuePair<string, FieldSpec>> Customer { get; }
    public IReadOnlyList<KeyValuePair<string, FieldSpec>> Data { get; }

    /// <summary>Validates a mapping definition; errors are JSON Pointers into it, prefixed by <paramref name="p"/>.</summary>
    public static (FieldMapping? Mapping, IReadOnlyList<InputError> Errors) Parse(JsonElement json, string p)
    {
        var errors = new List<InputError>();
        if (json.ValueKind != JsonValueKind.Object)
        {
            return (null, [new InputError(p, "Must be an object with at least 'type' and 'customer'.")]);
        }

        string? items = null;
        FieldSpec? type = null, externalId = null, priority = null, expiresAt = null;
        var customer = new List<KeyValuePair<string, FieldSpec>>();
        var data = new List<KeyValuePair<string, FieldSpec>>();
        foreach (var property in json.EnumerateObject())
        {
            var at = p + "/" + Escape(property.Name);
            switch (property.Name)
            {
                case "items":
                    if (property.Value.ValueKind != JsonValueKind.String || !JsonPointer.IsValid(property.Value.GetString()!))
                    {
                        errors.Add(new(at, "Must be a JSON Pointer to an array, e.g. \"/events\"."));
                    }
                    else
                    {
                        items = property.Value.GetString();
                    }

                    break;
                case "type":
                    type = FieldSpec.Parse(property.Value, at, errors, ValidType, "a notification type such as \"card.transaction\"");
                    break;
                case "externalId":
                    externalId = FieldSpec.Parse(property.Value, at, errors);
                    break;
                case "priority":
                    priority = FieldSpec.Parse(property.Value, at, errors, v => ParsePriority(v) is not null, "critical, high, normal or low");
                    break;
                case "expiresAt":
                    expiresAt = FieldSpec.Parse(property.Value, at, errors);
                    break;
                case "customer":
                    ParseGroup(property.Value, at, errors, customer, name => CustomerFields.Contains(name, StringComparer.Ordinal)
                        ? null : "Unknown customer field; use id, phone, telegramChatId, email, pushToken or language.");
                    break;
                case "data":
                    ParseGroup(property.Value, at, errors, data, name => name.Length is > 0 and <= 64 ? null : "Data names are 1 to 64 characters.");
                    break;
                default:
                    errors.Add(new(at, "Unknown mapping field; use items, type, externalId, priority, expiresAt, customer or data."));
                    break;
            }
        }

        if (type is null && !errors.Any(e => e.Pointer.StartsWith(p + "/type", StringComparison.Ordinal)))
        {
            errors.Add(new(p + "/type", "Required: where the notification type comes from, or {\"const\": \"card.transaction\"}."));
        }

        if (customer.Count == 0 && !errors.Any(e => e.Pointer.StartsWith(p + "/customer", StringComparison.Ordinal)))
        {
            errors.Add(new(p + "/customer", "Required: at least one customer field (id, phone, telegramChatId, email, pushToken)."));
        }

        if (customer.Count + data.Count > MaxFields)
        {
            errors.Add(new(p, $"At most {MaxFields} customer and data fields."));
        }

        return errors.Count > 0
            ? (null, errors)
            : (new FieldMapping(items, type!, externalId, priority, expiresAt, customer, data), errors);
    }

    /// <summary>The selectors this mapping reads (for a file layout to check that its columns exist).</summary>
    public IEnumerable<(string Where, string Selector)> Selectors()
    {
        IEnumerable<(string, FieldSpec?)> all =
        [
            ("/type", Type), ("/externalId", ExternalId), ("/priority", Priority), ("/expiresAt", ExpiresAt),
            .. Customer.Select(c => ("/customer/" + c.Key, (FieldSpec?)c.Value)),
            .. Data.Select(d => ("/data/" + Escape(d.Key), (FieldSpec?)d.Value)),
        ];
        foreach (var (where, spec) in all)
        {
            if (spec?.From is { } from)
            {
                yield return (where, from);
            }
        }
    }

    /// <summary>Maps one record. Errors name the record's location (<paramref name="where"/> + the selector) and the target field.</summary>
    /// <param name="dedupePrefix">Prefix of the dedupe key, e.g. "src:{sourceId}:"; the key is the prefix plus the
    /// external id, else plus <paramref name="fallbackKey"/>.</param>
    public (NewNotification? Notification, IReadOnlyList<InputError> Errors) Map(
        IMappingRecord record, Guid tenantId, Guid sourceId, string where, string dedupePrefix, string? fallbackKey)
    {
        var errors = new List<InputError>();
        var origins = new Dictionary<string, string>(StringComparer.Ordinal);

        string? Text(FieldSpec? spec, string target)
        {
            if (spec is null)
            {
                return null;
            }

            origins[target] = spec.From is { } from ? record.Describe(where, from) : "mapping" + target;
            var (value, error) = spec.ResolveText(record);
            if (error is not null)
            {
                errors.Add(new(origins[target], error + $" (mapped to {target})"));
            }

            return value;
        }

        var type = Text(Type, "/type");
        var externalId = Text(ExternalId, "/externalId");
        var priorityText = Text(Priority, "/priority");
        var expiresText = Text(ExpiresAt, "/expiresAt");
        var contacts = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (name, spec) in Customer)
        {
            contacts[name] = Text(spec, "/customer/" + name);
        }

        Priority? priority = null;
        if (priorityText is not null && (priority = ParsePriority(priorityText)) is null)
        {
            errors.Add(new(origins["/priority"], $"'{Clip(priorityText)}' is not a priority; use critical, high, normal or low (mapped to /priority)."));
        }

        DateTimeOffset? expiresAt = null;
        if (expiresText is not null)
        {
            if (DateTimeOffset.TryParse(expiresText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
            {
                expiresAt = t.ToUniversalTime();
            }
            else
            {
                errors.Add(new(origins["/expiresAt"], "Must be an ISO 8601 time (mapped to /expiresAt)."));
            }
        }

        var dataJson = WriteData(record, where, errors);
        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var request = new NotificationRequest
        {
            Type = type,
            Customer = new CustomerRequest
            {
                Id = contacts.GetValueOrDefault("id"),
                Phone = contacts.GetValueOrDefault("phone"),
                TelegramChatId = contacts.GetValueOrDefault("telegramChatId"),
                Email = contacts.GetValueOrDefault("email"),
                PushToken = contacts.GetValueOrDefault("pushToken"),
                Language = contacts.GetValueOrDefault("language"),
            },
            Priority = priority,
            ExpiresAt = expiresAt,
            ExternalId = externalId,
        };
        var (notification, invalid) = NotificationParser.Validate(request, tenantId, sourceId, null);
        if (notification is null)
        {
            return (null, [.. invalid.Select(e => new InputError(
                origins.TryGetValue(e.Pointer, out var origin) ? origin : where + e.Pointer, e.Detail + $" (mapped to {e.Pointer})"))]);
        }

        if (dataJson.Length > NotificationParser.MaxDataBytes)
        {
            return (null, [new InputError(where, $"The mapped data is larger than {NotificationParser.MaxDataBytes} bytes.")]);
        }

        var key = externalId ?? fallbackKey;
        return (notification with { DataJson = dataJson, DedupeKey = key is null ? null : dedupePrefix + key }, errors);
    }

    private string WriteData(IMappingRecord record, string where, List<InputError> errors)
    {
        if (Data.Count == 0)
        {
            return "{}";
        }

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, spec) in Data)
            {
                // Absent values without a default are left out, so templates can tell "missing" from "empty".
                var (_, error) = spec.WriteValue(record, writer, name);
                if (error is not null)
                {
                    errors.Add(new(spec.From is { } from ? record.Describe(where, from) : "mapping/data/" + Escape(name), error + $" (mapped to /data/{Escape(name)})"));
                }
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void ParseGroup(JsonElement group, string at, List<InputError> errors, List<KeyValuePair<string, FieldSpec>> into, Func<string, string?> checkName)
    {
        if (group.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new(at, "Must be an object of field names to selectors."));
            return;
        }

        foreach (var field in group.EnumerateObject())
        {
            var fieldAt = at + "/" + Escape(field.Name);
            if (checkName(field.Name) is { } nameError)
            {
                errors.Add(new(fieldAt, nameError));
                continue;
            }

            if (FieldSpec.Parse(field.Value, fieldAt, errors) is { } spec)
            {
                into.Add(new(field.Name, spec));
            }
        }
    }

    internal static Priority? ParsePriority(string value) => value.ToLowerInvariant() switch
    {
        "critical" => Core.Notifications.Priority.Critical,
        "high" => Core.Notifications.Priority.High,
        "normal" => Core.Notifications.Priority.Normal,
        "low" => Core.Notifications.Priority.Low,
        _ => null,
    };

    internal static bool ValidType(string value) => value.Length <= NotificationParser.MaxTypeLength && TypePattern().IsMatch(value);

    internal static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    internal static string Clip(string value) => value.Length <= 40 ? value : value[..40] + "…";

    [GeneratedRegex("^[a-z][a-z0-9_.-]*$")]
    private static partial Regex TypePattern();
}

/// <summary>Where one target field's value comes from.</summary>
/// <param name="From">A selector (JSON Pointer) into the record, or null for a constant.</param>
/// <param name="Map">Value map applied to the selected text (exact match); unmapped values take <paramref name="Default"/> or are errors.</param>
/// <param name="Default">Used when the selected value is absent, null or empty (or unmapped, with a map).</param>
/// <param name="Const">The constant, when <paramref name="From"/> is null.</param>
public sealed record FieldSpec(string? From, IReadOnlyDictionary<string, string>? Map, string? Default, JsonElement? Const)
{
    internal static FieldSpec? Parse(JsonElement json, string at, List<InputError> errors, Func<string, bool>? validOutput = null, string? outputHint = null)
    {
        var before = errors.Count;
        FieldSpec? spec = null;
        if (json.ValueKind == JsonValueKind.String)
        {
            var selector = json.GetString()!;
            if (!JsonPointer.IsValid(selector))
            {
                errors.Add(new(at, "A selector is a JSON Pointer starting with '/', e.g. \"/amount\"; write {\"const\": ...} for a fixed value."));
                return null;
            }

            return new FieldSpec(selector, null, null, null);
        }

        if (json.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new(at, "Must be a selector string or an object with 'from' (and optional 'map', 'default') or 'const'."));
            return null;
        }

        string? from = null, @default = null;
        Dictionary<string, string>? map = null;
        JsonElement? constant = null;
        foreach (var property in json.EnumerateObject())
        {
            var propertyAt = at + "/" + FieldMapping.Escape(property.Name);
            switch (property.Name)
            {
                case "from" when property.Value.ValueKind == JsonValueKind.String && JsonPointer.IsValid(property.Value.GetString()!):
                    from = property.Value.GetString();
                    break;
                case "from":
                    errors.Add(new(propertyAt, "Must be a JSON Pointer starting with '/'."));
                    break;
                case "default" when property.Value.ValueKind == JsonValueKind.String:
                    @default = property.Value.GetString();
                    break;
                case "default":
                    errors.Add(new(propertyAt, "Must be a string."));
                    break;
                case "const" when property.Value.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                    constant = property.Value.Clone();
                    break;
                case "const":
                    errors.Add(new(propertyAt, "Must be a string, number or boolean."));
                    break;
                case "map" when property.Value.ValueKind == JsonValueKind.Object:
                    map = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var entry in property.Value.EnumerateObject())
                    {
                        if (entry.Value.ValueKind != JsonValueKind.String)
                        {
                            errors.Add(new(propertyAt + "/" + FieldMapping.Escape(entry.Name), "Must be a string."));
                        }
                        else
                        {
                            map[entry.Name] = entry.Value.GetString()!;
                        }
                    }

                    break;
                case "map":
                    errors.Add(new(propertyAt, "Must be an object of input values to output values."));
                    break;
                default:
                    errors.Add(new(propertyAt, "Unknown; use from, map, default or const."));
                    break;
            }
        }

        if (errors.Count > before)
        {
            return null;
        }

        if ((from is null) == (constant is null))
        {
            errors.Add(new(at, "Needs exactly one of 'from' (a selector) or 'const'."));
            return null;
        }

        if (constant is not null && (map is not null || @default is not null))
        {
            errors.Add(new(at, "'map' and 'default' go with 'from', not with 'const'."));
            return null;
        }

        spec = new FieldSpec(from, map, @default, constant);
        if (validOutput is not null)
        {
            IEnumerable<(string Where, string Value)> outputs =
            [
                .. (map ?? []).Select(m => (at + "/map/" + FieldMapping.Escape(m.Key), m.Value)),
                .. @default is null ? [] : new[] { (at + "/default", @default) },
                .. constant is { ValueKind: JsonValueKind.String } c ? new[] { (at + "/const", c.GetString()!) } : [],
            ];
            foreach (var (where, value) in outputs.Where(o => !validOutput(o.Value)))
            {
                errors.Add(new(where, $"'{FieldMapping.Clip(value)}' is not valid here; expected {outputHint}."));
            }

            if (errors.Count > before)
            {
                return null;
            }
        }

        return spec;
    }

    /// <summary>The value as text, or null when absent (no default). Objects and arrays are errors.</summary>
    internal (string? Value, string? Error) ResolveText(IMappingRecord record)
    {
        if (Const is { } constant)
        {
            return (constant.ValueKind == JsonValueKind.String ? constant.GetString() : constant.GetRawText(), null);
        }

        if (!record.TryGet(From!, out var value) || value.IsEmpty)
        {
            return (Default, null);
        }

        if (value.Text is not { } text)
        {
            return (null, "Must be a string or number, not an object or array.");
        }

        if (Map is null)
        {
            return (text, null);
        }

        return Map.TryGetValue(text, out var mapped) ? (mapped, null)
            : Default is not null ? (Default, null)
            : (null, $"'{FieldMapping.Clip(text)}' has no entry in the mapping's 'map' and there is no 'default'.");
    }

    /// <summary>Writes the value as a property of the data object; false when absent.</summary>
    internal (bool Written, string? Error) WriteValue(IMappingRecord record, Utf8JsonWriter writer, string name)
    {
        if (Const is { } constant)
        {
            writer.WritePropertyName(name);
            constant.WriteTo(writer);
            return (true, null);
        }

        if (!record.TryGet(From!, out var value) || value.IsEmpty)
        {
            if (Default is null)
            {
                return (false, null);
            }

            writer.WriteString(name, Default);
            return (true, null);
        }

        if (Map is not null)
        {
            var (text, error) = ResolveText(record);
            if (error is not null)
            {
                return (false, error);
            }

            writer.WriteString(name, text);
            return (true, null);
        }

        writer.WritePropertyName(name);
        if (value.Element is { } element)
        {
            element.WriteTo(writer);
        }
        else
        {
            writer.WriteStringValue(value.Text);
        }

        return (true, null);
    }
}

/// <summary>A selected value: text for scalars, the element itself for JSON input.</summary>
public readonly record struct MappedValue(string? Text, JsonElement? Element)
{
    public bool IsEmpty => Element is { ValueKind: JsonValueKind.Null } || (Element is null && string.IsNullOrEmpty(Text)) || (Element is { ValueKind: JsonValueKind.String } && Text is "");

    public static MappedValue From(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => new(element.GetString(), element),
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => new(element.GetRawText(), element),
        _ => new(null, element),
    };
}

/// <summary>One input record a <see cref="FieldMapping"/> reads from.</summary>
public interface IMappingRecord
{
    bool TryGet(string selector, out MappedValue value);

    /// <summary>How an error names a selected value of this record, e.g. "/events/3/amount" or "line 12, field 'amount'".</summary>
    string Describe(string where, string selector);
}

/// <summary>A JSON document (or one item of it) as a mapping record.</summary>
public sealed class JsonMappingRecord(JsonElement root) : IMappingRecord
{
    public bool TryGet(string selector, out MappedValue value)
    {
        if (JsonPointer.TryResolve(root, selector, out var element))
        {
            value = MappedValue.From(element);
            return true;
        }

        value = default;
        return false;
    }

    public string Describe(string where, string selector) => where + selector;
}

/// <summary>RFC 6901 JSON Pointers.</summary>
public static class JsonPointer
{
    public const int MaxLength = 512;

    public static bool IsValid(string pointer)
    {
        if (pointer.Length is < 2 or > MaxLength || pointer[0] != '/')
        {
            return false;
        }

        for (var i = 0; i < pointer.Length; i++)
        {
            if (pointer[i] == '~' && (i + 1 >= pointer.Length || pointer[i + 1] is not ('0' or '1')))
            {
                return false;
            }
        }

        return true;
    }

    public static bool TryResolve(JsonElement root, string pointer, out JsonElement element)
    {
        element = root;
        foreach (var raw in pointer[1..].Split('/'))
        {
            var token = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (element.ValueKind == JsonValueKind.Object)
            {
                if (!element.TryGetProperty(token, out element))
                {
                    return false;
                }
            }
            else if (element.ValueKind == JsonValueKind.Array)
            {
                if (!int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index >= element.GetArrayLength())
                {
                    return false;
                }

                element = element[index];
            }
            else
            {
                return false;
            }
        }

        return true;
    }
}
