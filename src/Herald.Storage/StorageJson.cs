using System.Text.Json;
using System.Text.Json.Serialization;
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
