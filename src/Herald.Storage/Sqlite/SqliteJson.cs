using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Sqlite;

/// <summary>The JSON shapes the embedded store keeps in TEXT columns (source-generated, camelCase).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Route))]
[JsonSerializable(typeof(Contacts))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class SqliteJsonContext : JsonSerializerContext;

internal static class SqliteJson
{
    public static string Route(Route route) => JsonSerializer.Serialize(route, SqliteJsonContext.Default.Route);

    public static Route Route(string json) =>
        JsonSerializer.Deserialize(json, SqliteJsonContext.Default.Route) ?? throw new InvalidDataException("Stored route is null.");

    public static string Contacts(Contacts contacts) => JsonSerializer.Serialize(contacts, SqliteJsonContext.Default.Contacts);

    public static Contacts Contacts(string json) =>
        JsonSerializer.Deserialize(json, SqliteJsonContext.Default.Contacts) ?? Herald.Core.Notifications.Contacts.None;

    public static string Roles(IReadOnlyList<string> roles) => JsonSerializer.Serialize(roles.ToArray(), SqliteJsonContext.Default.StringArray);

    public static IReadOnlyList<string> Roles(string json) => JsonSerializer.Deserialize(json, SqliteJsonContext.Default.StringArray) ?? [];
}
