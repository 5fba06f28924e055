using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Herald.Channels.Egress;
using Herald.Core.Notifications;

namespace Herald.Channels.Providers;

/// <summary>One field of a connector's settings object.</summary>
/// <param name="Secret">A credential: encrypted at rest with the rest of the settings, never shown by the API
/// (redacted to <see cref="ConnectorDefinitions.Redacted"/>), and kept when an update leaves it out.</param>
public sealed record ConnectorSetting(string Name, bool Required, bool Secret, string Description);

/// <summary>What a connector kind needs in <c>settings</c>, so the API can validate and redact without knowing it.</summary>
/// <param name="Validate">Throws <see cref="FormatException"/> (message "settings.{field} ...") for unusable settings.</param>
/// <param name="Destinations">Where the connector connects with these (valid) settings, for the egress check on save.</param>
/// <param name="Identity">The sender identity of valid settings (see <see cref="ConnectorDefinitions.SenderIdentity(string, JsonElement)"/>),
/// or null for a kind whose sender the vendor does not name (SMTP: any relay may send for any domain).</param>
public sealed record ConnectorDefinition(
    string Kind, Channel Channel, IReadOnlyList<ConnectorSetting> Settings, Action<JsonElement> Validate,
    Func<JsonElement, IEnumerable<EgressDestination>> Destinations, Func<JsonElement, string>? Identity = null);

/// <summary>One destination a connector connects to: a URL (HTTP APIs) or a host and port (SMTP, SMPP), and the
/// setting that names it.</summary>
public sealed record EgressDestination(string Field, string? Url, string? Host = null, int Port = 0)
{
    /// <summary>A URL setting as a destination.</summary>
    public static EgressDestination ForUrl(string field, Uri url) => new(field, url.OriginalString);
}

/// <summary>A settings problem at a field (null = the settings object as a whole).</summary>
public sealed record SettingsError(string? Field, string Message);

/// <summary>
/// The self-description of every built-in connector (Notifo's "connector definitions"): fields, which are required
/// and which are secrets. A connector kind without a definition here (added later) still works: its fields whose
/// names look like credentials (token, secret, password, key, credential) are treated as secrets.
/// </summary>
public static partial class ConnectorDefinitions
{
    /// <summary>What the API shows instead of a secret value.</summary>
    public const string Redacted = "********";

    private static readonly FrozenDictionary<string, ConnectorDefinition> Known =
        ChannelCatalog.All.Select(static p => p.Definition).ToFrozenDictionary(static d => d.Kind, StringComparer.Ordinal);

    /// <summary>Every built-in definition.</summary>
    public static IReadOnlyCollection<ConnectorDefinition> All => Known.Values;

    public static ConnectorDefinition? Find(string kind) => Known.GetValueOrDefault(kind);

    /// <summary>Whether <paramref name="field"/> is a secret of <paramref name="kind"/>.</summary>
    public static bool IsSecret(string kind, string field) =>
        Find(kind) is { } definition
            ? definition.Settings.Any(s => s.Secret && s.Name == field) || (definition.Settings.All(s => s.Name != field) && LooksSecret(field))
            : LooksSecret(field);

    /// <summary>Checks a settings object for a kind: an object, required fields present, and usable by the connector.</summary>
    public static IReadOnlyList<SettingsError> Validate(string kind, JsonElement settings)
    {
        if (settings.ValueKind != JsonValueKind.Object)
        {
            return [new SettingsError(null, "Must be a JSON object.")];
        }

        if (Find(kind) is not { } definition)
        {
            return [];
        }

        var errors = new List<SettingsError>();
        foreach (var field in definition.Settings.Where(static s => s.Required))
        {
            if (!settings.TryGetProperty(field.Name, out var value) || value.ValueKind is JsonValueKind.Null
                || (value.ValueKind == JsonValueKind.String && string.IsNullOrWhiteSpace(value.GetString())))
            {
                errors.Add(new SettingsError(field.Name, $"Required: {field.Description}"));
            }
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        try
        {
            definition.Validate(settings);
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException or ArgumentException or UriFormatException)
        {
            var match = FieldInMessage().Match(e.Message);
            errors.Add(new SettingsError(match.Success ? match.Groups[1].Value : null, e.Message));
        }

        return errors;
    }

    /// <summary>
    /// The egress check of valid settings on save: every destination the connector would connect to must pass
    /// <paramref name="guard"/> (a literal non-public address in any spelling, or a name of this machine, is refused
    /// unless the operator allows it). Names are checked again against what DNS says when connecting.
    /// </summary>
    public static IReadOnlyList<SettingsError> CheckEgress(string kind, JsonElement settings, EgressGuard guard)
    {
        ArgumentNullException.ThrowIfNull(guard);
        if (Find(kind) is not { } definition)
        {
            return [];
        }

        var errors = new List<SettingsError>();
        foreach (var destination in definition.Destinations(settings))
        {
            var problem = destination.Url is { } url ? guard.CheckUrl(url) : guard.CheckHost(destination.Host, destination.Port);
            if (problem is not null)
            {
                errors.Add(new SettingsError(destination.Field, problem));
            }
        }

        return errors;
    }

    /// <summary>
    /// What the vendor knows the sender of these settings as (<c>whatsapp:{phoneNumberId}</c>,
    /// <c>telegram:{botId}</c>, <c>twilio:{accountSid}:{from}</c>, <c>smpp:{host}:{systemId}</c>,
    /// <c>fcm:{projectId}</c>): a sender identity belongs to one provider account, hence one tenant (issue #13), which
    /// the stores enforce with a unique index. Null for kinds without one and for settings that do not parse (the
    /// caller validated them first).
    /// </summary>
    public static string? SenderIdentity(string kind, JsonElement settings)
    {
        if (Find(kind)?.Identity is not { } identity)
        {
            return null;
        }

        try
        {
            return identity(settings);
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException or ArgumentException or UriFormatException)
        {
            return null;
        }
    }

    /// <inheritdoc cref="SenderIdentity(string, JsonElement)"/>
    public static string? SenderIdentity(string kind, string settingsJson)
    {
        using var doc = JsonDocument.Parse(settingsJson);
        return SenderIdentity(kind, doc.RootElement);
    }

    /// <summary>The settings with every secret value replaced by <see cref="Redacted"/>.</summary>
    public static JsonObject Redact(string kind, string settingsJson)
    {
        var node = JsonNode.Parse(settingsJson) as JsonObject ?? [];
        foreach (var name in node.Select(static p => p.Key).ToArray())
        {
            if (IsSecret(kind, name) && node[name] is not null)
            {
                node[name] = Redacted;
            }
        }

        return node;
    }

    /// <summary>
    /// New settings for an update, as a JSON merge patch (RFC 7396) of <paramref name="patch"/> onto the stored
    /// settings: fields the patch leaves out keep their stored values (so secrets never need to be sent back), a
    /// field set to null is removed, and a secret sent back as <see cref="Redacted"/> keeps its stored value.
    /// </summary>
    public static JsonObject Merge(string kind, string storedJson, JsonObject patch)
    {
        var merged = JsonNode.Parse(storedJson) as JsonObject ?? [];
        foreach (var (name, value) in patch)
        {
            if (value is null)
            {
                merged.Remove(name);
            }
            else if (!(IsSecret(kind, name) && value is JsonValue v && v.TryGetValue<string>(out var text) && text == Redacted))
            {
                merged[name] = value.DeepClone();
            }
        }

        return merged;
    }

    private static bool LooksSecret(string field) =>
        field.Contains("token", StringComparison.OrdinalIgnoreCase) || field.Contains("secret", StringComparison.OrdinalIgnoreCase)
        || field.Contains("password", StringComparison.OrdinalIgnoreCase) || field.Contains("key", StringComparison.OrdinalIgnoreCase)
        || field.Contains("credential", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"settings\.([A-Za-z0-9_]+)")]
    private static partial Regex FieldInMessage();
}
