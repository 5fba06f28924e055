using System.Text.Json;

namespace Herald.Channels.Sms;

/// <summary>The settings of a "twilio-sms" provider account (Twilio Programmable Messaging, REST API 2010-04-01).</summary>
/// <param name="AuthToken">Basic-auth password of the API and the key of the <c>X-Twilio-Signature</c> HMAC on status callbacks.</param>
/// <param name="From">Sender: an E.164 number, short code or alphanumeric sender id. Either this or
/// <paramref name="MessagingServiceSid"/> is required; with both, the Messaging Service picks the sender.</param>
/// <param name="StatusCallbackUrl">Where Twilio POSTs status callbacks, e.g.
/// <c>https://herald.example/callbacks/sms/{providerId}</c>; a literal <c>{providerId}</c> is replaced by the provider
/// account id. Without it no receipts arrive (the attempt stays accepted until the step's timeout).</param>
public sealed record TwilioSettings(Uri BaseUrl, string AccountSid, string AuthToken, string? From, string? MessagingServiceSid, string? StatusCallbackUrl)
{
    public const string DefaultBaseUrl = "https://api.twilio.com";

    /// <summary>The placeholder in <see cref="StatusCallbackUrl"/> that stands for the provider account id.</summary>
    public const string ProviderIdPlaceholder = "{providerId}";

    /// <summary><c>{baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json</c>.</summary>
    public Uri MessagesUri { get; } = new($"{BaseUrl.AbsoluteUri.TrimEnd('/')}/2010-04-01/Accounts/{Uri.EscapeDataString(AccountSid)}/Messages.json");

    /// <summary>
    /// The status callback URL for an account, exactly as Twilio will call it (and so exactly what its
    /// <c>X-Twilio-Signature</c> covers); null when none is configured.
    /// </summary>
    public string? StatusCallbackFor(Guid providerAccountId) =>
        StatusCallbackUrl?.Replace(ProviderIdPlaceholder, providerAccountId.ToString("D"), StringComparison.Ordinal);

    public static TwilioSettings Parse(JsonElement root)
    {
        var from = SettingsJson.Optional(root, "from");
        var service = SettingsJson.Optional(root, "messagingServiceSid");
        if (string.IsNullOrWhiteSpace(from) && string.IsNullOrWhiteSpace(service))
        {
            throw new FormatException("settings.from or settings.messagingServiceSid is required");
        }

        var callback = SettingsJson.Optional(root, "statusCallbackUrl");
        if (!string.IsNullOrWhiteSpace(callback)
            && !(Uri.TryCreate(callback.Replace(ProviderIdPlaceholder, Guid.Empty.ToString("D"), StringComparison.Ordinal), UriKind.Absolute, out var uri)
                && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
        {
            throw new FormatException("settings.statusCallbackUrl must be an absolute http(s) URL");
        }

        return new(
            SettingsJson.BaseUrl(root, DefaultBaseUrl),
            SettingsJson.Required(root, "accountSid"),
            SettingsJson.Required(root, "authToken"),
            string.IsNullOrWhiteSpace(from) ? null : from,
            string.IsNullOrWhiteSpace(service) ? null : service,
            string.IsNullOrWhiteSpace(callback) ? null : callback);
    }

    /// <summary>Parses settings text; throws <see cref="FormatException"/> or <see cref="JsonException"/> when unusable.</summary>
    public static TwilioSettings Parse(string settingsJson)
    {
        using var doc = JsonDocument.Parse(settingsJson);
        return Parse(doc.RootElement);
    }
}
