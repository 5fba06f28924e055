using System.Text.Json;

namespace Herald.Channels.WhatsApp;

/// <summary>The settings of a "whatsapp-cloud" provider account (Meta WhatsApp Cloud API, Graph API).</summary>
/// <param name="AppSecret">Meta app secret: the key of the <c>X-Hub-Signature-256</c> HMAC on callbacks.</param>
/// <param name="VerifyToken">The token Meta echoes in the webhook verification handshake.</param>
/// <param name="EnforceServiceWindow">Whether Herald keeps to the 24-hour customer-service window (setting
/// <c>serviceWindow</c>: <c>"enforce"</c>, the default, or <c>"off"</c> for an account whose free-form sends Meta allows
/// outside it, and for the sandbox's own account): see <see cref="ICustomerServiceWindows"/>.</param>
public sealed record WhatsAppSettings(
    Uri BaseUrl, string ApiVersion, string PhoneNumberId, string AccessToken, string? AppSecret, string? VerifyToken, bool EnforceServiceWindow = true)
{
    /// <summary>The <c>serviceWindow</c> values.</summary>
    public const string WindowEnforced = "enforce", WindowOff = "off";

    public const string DefaultBaseUrl = "https://graph.facebook.com";
    public const string DefaultApiVersion = "v21.0";

    /// <summary>The messages endpoint: <c>{baseUrl}/{apiVersion}/{phoneNumberId}/messages</c>.</summary>
    public Uri MessagesUri { get; } = new($"{BaseUrl.AbsoluteUri.TrimEnd('/')}/{Uri.EscapeDataString(ApiVersion)}/{Uri.EscapeDataString(PhoneNumberId)}/messages");

    public static WhatsAppSettings Parse(JsonElement root) => new(
        SettingsJson.BaseUrl(root, DefaultBaseUrl),
        SettingsJson.Optional(root, "apiVersion") is { Length: > 0 } version ? version : DefaultApiVersion,
        SettingsJson.Required(root, "phoneNumberId"),
        SettingsJson.Required(root, "accessToken"),
        SettingsJson.Optional(root, "appSecret"),
        SettingsJson.Optional(root, "verifyToken"),
        SettingsJson.Optional(root, "serviceWindow") switch
        {
            null or WindowEnforced => true,
            WindowOff => false,
            _ => throw new FormatException($"serviceWindow must be \"{WindowEnforced}\" or \"{WindowOff}\"."),
        });

    /// <summary>Parses settings text; throws <see cref="FormatException"/> or <see cref="JsonException"/> when unusable.</summary>
    public static WhatsAppSettings Parse(string settingsJson)
    {
        using var doc = JsonDocument.Parse(settingsJson);
        return Parse(doc.RootElement);
    }
}
