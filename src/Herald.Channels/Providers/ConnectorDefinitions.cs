using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Herald.Channels.Egress;
using Herald.Channels.Email;
using Herald.Channels.Push;
using Herald.Channels.Sms;
using Herald.Channels.Sms.Smpp;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
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
public sealed record EgressDestination(string Field, string? Url, string? Host = null, int Port = 0);

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

    private static readonly FrozenDictionary<string, ConnectorDefinition> Known = new ConnectorDefinition[]
    {
        new(WhatsAppCloudConnector.ConnectorKind, Channel.WhatsApp,
        [
            new("baseUrl", false, false, "Graph API base URL (default https://graph.facebook.com)."),
            new("apiVersion", false, false, "Graph API version (default v21.0)."),
            new("phoneNumberId", true, false, "The business phone number id that sends."),
            new("accessToken", true, true, "System-user access token."),
            new("appSecret", false, true, "App secret: key of the X-Hub-Signature-256 on webhooks."),
            new("verifyToken", false, true, "Token Meta echoes in the webhook verification handshake."),
        ], static e => WhatsAppSettings.Parse(e), static e => [Url("baseUrl", WhatsAppSettings.Parse(e).BaseUrl)],
            // Meta's status webhooks name the phone number id: it routes them, so it has one owner.
            static e => "whatsapp:" + WhatsAppSettings.Parse(e).PhoneNumberId),
        new(TelegramBotConnector.ConnectorKind, Channel.Telegram,
        [
            new("baseUrl", false, false, "Bot API base URL (default https://api.telegram.org)."),
            new("botToken", true, true, "The bot's token from @BotFather."),
            new("webhookSecret", false, true, "secret_token given to setWebhook."),
        ], static e => TelegramSettings.Parse(e), static e => [Url("baseUrl", TelegramSettings.Parse(e).BaseUrl)],
            // A bot has one webhook (setWebhook) and is named by the id before the token's colon.
            static e => "telegram:" + TelegramSettings.Parse(e).BotId),
        new(TwilioSmsConnector.ConnectorKind, Channel.Sms,
        [
            new("baseUrl", false, false, "REST API base URL (default https://api.twilio.com)."),
            new("accountSid", true, false, "Account SID (AC...)."),
            new("authToken", true, true, "Auth token: API password and status callback signing key."),
            new("from", false, false, "Sender number, short code or alphanumeric id (this or messagingServiceSid)."),
            new("messagingServiceSid", false, false, "Messaging Service SID (this or from)."),
            new("statusCallbackUrl", false, false, "Where status callbacks go; {providerId} is replaced by the account id."),
        ], static e => TwilioSettings.Parse(e), static e => [Url("baseUrl", TwilioSettings.Parse(e).BaseUrl)],
            // One vendor account sends from several numbers (a tenant's pool); the pair names one sender.
            static e => TwilioSettings.Parse(e) is var t ? $"twilio:{t.AccountSid}:{t.From ?? t.MessagingServiceSid}" : ""),
        new(SmtpEmailConnector.ConnectorKind, Channel.Email,
        [
            new("host", true, false, "SMTP relay host."),
            new("port", false, false, "Port (default 587, 465 with ssl)."),
            new("security", false, false, "starttls (default), ssl or none."),
            new("username", false, false, "AUTH user name."),
            new("password", false, true, "AUTH password."),
            new("fromAddress", true, false, "Sender address."),
            new("fromName", false, false, "Sender display name."),
            new("subject", false, false, "Subject; {fromName} is replaced."),
            new("maxConnections", false, false, "Connections kept to the relay (1-64, default 4)."),
            new("bounceAddress", false, false, "Envelope sender that bounces return to (default fromAddress); {accountId} is replaced."),
            new("bounceToken", false, true, "Bearer token of POST /callbacks/email/{accountId}, where bounce reports are handed in."),
        ], static e => SmtpSettings.Parse(e), static e => SmtpSettings.Parse(e) is var s ? [new EgressDestination("host", null, s.Host, s.Port)] : []),
        new(SmppSmsConnector.ConnectorKind, Channel.Sms,
        [
            new("host", true, false, "SMSC host."),
            new("port", false, false, "Port (default 2775)."),
            new("systemId", true, false, "Bind system_id (at most 15 ASCII characters)."),
            new("password", false, true, "Bind password (at most 8 ASCII characters)."),
            new("systemType", false, false, "Bind system_type (at most 12 ASCII characters)."),
            new("sourceAddr", true, false, "Sender: number or alphanumeric id (at most 20 characters)."),
            new("sourceTon", false, false, "Sender type of number (default 5 for alphanumeric senders, else 1)."),
            new("sourceNpi", false, false, "Sender numbering plan (default 0 for alphanumeric senders, else 1)."),
            new("destTon", false, false, "Recipient type of number (default 1, international)."),
            new("destNpi", false, false, "Recipient numbering plan (default 1, E.164)."),
            new("windowSize", false, false, "submit_sm awaiting their response at once (1-1000, default 10)."),
            new("enquireLinkSeconds", false, false, "Idle time before an enquire_link (default 30)."),
            new("responseTimeoutSeconds", false, false, "How long a PDU waits for its response (default 10)."),
            new("reconnectMinSeconds", false, false, "First reconnect delay (default 1)."),
            new("reconnectMaxSeconds", false, false, "Longest reconnect delay (default 60)."),
            new("registeredDelivery", false, false, "Ask for delivery receipts (default true)."),
            new("receiptIdFormat", false, false, "same (default), hex-submit-decimal-receipt or decimal-submit-hex-receipt: how receipts write the submit_sm_resp id."),
        ], static e => SmppSettings.Parse(e), static e => SmppSettings.Parse(e) is var s ? [new EgressDestination("host", null, s.Host, s.Port)] : [],
            // An SMSC hands receipts to any bind of a system_id: one owner per system_id at a host.
            static e => SmppSettings.Parse(e) is var p ? $"smpp:{p.Host.ToLowerInvariant()}:{p.SystemId}" : ""),
        new(FcmConnector.ConnectorKind, Channel.Push,
        [
            new("project_id", true, false, "Firebase project id (from the service-account key file)."),
            new("client_email", true, false, "Service-account e-mail (from the key file)."),
            new("private_key", true, true, "Service-account RSA private key, PEM (from the key file)."),
            new("private_key_id", false, false, "The key's id (from the key file)."),
            new("token_uri", false, false, "OAuth2 token endpoint (default https://oauth2.googleapis.com/token)."),
            new("projectId", false, false, "Overrides project_id."),
            new("baseUrl", false, false, "FCM API base URL (default https://fcm.googleapis.com)."),
            new("title", false, false, "Notification title shown above the text."),
        ], static e => FcmSettings.Parse(e).Dispose(), static e =>
        {
            using var s = FcmSettings.Parse(e);
            return [Url("baseUrl", s.BaseUrl), Url("token_uri", s.TokenUri)];
        },
            static e =>
            {
                using var fcm = FcmSettings.Parse(e);
                return "fcm:" + fcm.ProjectId;
            }),
    }.ToFrozenDictionary(static d => d.Kind, StringComparer.Ordinal);

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

    private static EgressDestination Url(string field, Uri url) => new(field, url.OriginalString);

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
