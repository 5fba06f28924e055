using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage;

/// <summary>
/// How every backend stores a notification's route and contacts as JSON: camelCase properties, enums by their
/// JSON names (e.g. "whatsapp"), TimeSpan as "00:00:30", nulls left out.
/// </summary>
public static class StorageJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Generated code for the shapes written per notification (reflection-based serialisation of the route was a
        // measurable share of batch ingest), the reflection resolver for anything else a caller hands in.
        TypeInfoResolver = JsonTypeInfoResolver.Combine(StorageJsonContext.Default, new DefaultJsonTypeInfoResolver()),
    };

    public static string SerializeRoute(Route route) => JsonSerializer.Serialize(route, Options);

    public static Route DeserializeRoute(string json) =>
        JsonSerializer.Deserialize<Route>(json, Options) ?? throw new JsonException("A stored route is null.");

    public static string SerializeContacts(Contacts contacts) => JsonSerializer.Serialize(contacts, Options);

    public static Contacts DeserializeContacts(string json) =>
        JsonSerializer.Deserialize<Contacts>(json, Options) ?? Contacts.None;

    /// <summary>Reply choices as stored: null when there are none, so "asks nothing" is one SQL test (IS NULL).</summary>
    public static string? SerializeActions(IReadOnlyList<NotificationAction> actions) =>
        actions.Count == 0 ? null : JsonSerializer.Serialize(actions, Options);

    public static IReadOnlyList<NotificationAction> DeserializeActions(string? json) =>
        json is null ? [] : JsonSerializer.Deserialize<NotificationAction[]>(json, Options) ?? [];
}

/// <summary>The shapes <see cref="StorageJson"/> writes, with its options.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Route))]
[JsonSerializable(typeof(Contacts))]
[JsonSerializable(typeof(NotificationAction[]))]
[JsonSerializable(typeof(IReadOnlyList<NotificationAction>))]
internal sealed partial class StorageJsonContext : JsonSerializerContext;
