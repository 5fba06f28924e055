using System.Collections.Concurrent;
using System.Text.Json;
using Herald.Core.Delivery;
using Herald.Core.Providers;

namespace Herald.Channels;

/// <summary>
/// Parsed <see cref="ProviderAccount.Settings"/> per account id, so the JSON is parsed once per account and not per
/// message. An account whose settings text changed (the directory reloaded it) is parsed again.
/// </summary>
internal sealed class AccountSettingsCache<T>(Func<JsonElement, T> parse) where T : class
{
    private readonly ConcurrentDictionary<Guid, Entry> _entries = new();

    /// <summary>The parsed settings, or null with <paramref name="error"/> when they are unusable.</summary>
    public T? Get(ProviderAccount account, out string? error)
    {
        if (_entries.TryGetValue(account.Id, out var entry)
            && (ReferenceEquals(entry.Raw, account.Settings) || string.Equals(entry.Raw, account.Settings, StringComparison.Ordinal)))
        {
            error = entry.Error;
            return entry.Value;
        }

        entry = Parse(account.Settings);
        _entries[account.Id] = entry;
        error = entry.Error;
        return entry.Value;
    }

    private Entry Parse(string raw)
    {
        try
        {
            using var doc = JsonDocument.Parse(raw);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return new Entry(raw, null, "settings are not a JSON object");
            }

            return new Entry(raw, parse(doc.RootElement), null);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            return new Entry(raw, null, e.Message);
        }
    }

    private sealed record Entry(string Raw, T? Value, string? Error);
}

internal static class SettingsJson
{
    public static string Required(JsonElement root, string name) =>
        root.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(p.GetString())
            ? p.GetString()!
            : throw new FormatException($"settings.{name} is required");

    public static string? Optional(JsonElement root, string name) =>
        root.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;

    public static Uri BaseUrl(JsonElement root, string fallback)
    {
        var text = Optional(root, "baseUrl");
        if (string.IsNullOrWhiteSpace(text))
        {
            text = fallback;
        }

        return Uri.TryCreate(text.TrimEnd('/'), UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            // Herald appends the API's path: a '?' or '#' would turn that path into a query and let the setting
            // choose which path of the host is called.
            && text.AsSpan().IndexOfAny('?', '#') < 0 && string.IsNullOrEmpty(uri.UserInfo)
            ? uri
            : throw new FormatException("settings.baseUrl must be an absolute http(s) URL without credentials, query or fragment");
    }
}

internal static class AccountSettings
{
    /// <summary>Unusable account settings are our configuration, not the message's fault: transient, so the circuit
    /// breaker moves traffic to the channel's healthy accounts.</summary>
    public static SendOutcome Unusable(string? error) =>
        SendOutcome.Transient("invalid_settings", $"provider account settings: {error}");
}
