using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Channels.Providers;
using Herald.Core.Notifications;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald.Channels.WhatsApp;

/// <summary>WhatsApp Cloud API: the connector, Meta's webhooks (handler and phone number id matcher), the sandbox account.</summary>
public static class WhatsAppChannel
{
    /// <summary>Its settings: fields, which are required and which are secrets, validation, egress, sender identity.</summary>
    public static ConnectorDefinition Definition { get; } =
    new(WhatsAppCloudConnector.ConnectorKind, Channel.WhatsApp,
    [
        new("baseUrl", false, false, "Graph API base URL (default https://graph.facebook.com)."),
        new("apiVersion", false, false, "Graph API version (default v21.0)."),
        new("phoneNumberId", true, false, "The business phone number id that sends."),
        new("accessToken", true, true, "System-user access token."),
        new("appSecret", false, true, "App secret: key of the X-Hub-Signature-256 on webhooks."),
        new("verifyToken", false, true, "Token Meta echoes in the webhook verification handshake."),
        new("serviceWindow", false, false, "\"enforce\" (default): free-form text only within 24 h of the customer's last message, else the template or the next channel; \"off\": never checked."),
    ], static e => WhatsAppSettings.Parse(e), static e => [EgressDestination.ForUrl("baseUrl", WhatsAppSettings.Parse(e).BaseUrl)],
        // Meta's status webhooks name the phone number id: it routes them, so it has one owner.
        static e => "whatsapp:" + WhatsAppSettings.Parse(e).PhoneNumberId);

    // After Definition: static initializers run in text order.
    public static ChannelPlugin Plugin { get; } = new(Definition, Register, Sandbox, CallbackAliases: [new("GET", "/whatsapp"), new("POST", "/whatsapp")]);

    private static void Register(IServiceCollection services, IConfiguration configuration)
    {
        ChannelsServiceCollectionExtensions.AddConnectorClient(services, ChannelHttpClients.WhatsApp);
        services.TryAddSingleton<WhatsAppCloudConnector>();
        services.AddSingleton<IChannelConnector>(static sp => sp.GetRequiredService<WhatsAppCloudConnector>());
        services.TryAddSingleton<WhatsAppAccountMatcher>();
        services.AddSingleton<IChannelCallbackHandler, WhatsAppCallbackHandler>();
    }

    /// <summary>A random business phone number id of its own, and its own app secret: the in-process sandbox signs this
    /// number's webhooks with it (SandboxAccountSecrets), so one tenant cannot sign another's receipts.</summary>
    private static SandboxAccount Sandbox(SandboxContext context) => new("Sandbox WhatsApp", JsonSerializer.Serialize(new Dictionary<string, string>
    {
        ["baseUrl"] = context.SandboxBaseUrl + "/whatsapp",
        ["apiVersion"] = "v21.0",
        ["phoneNumberId"] = RandomNumberGenerator.GetInt32(100_000_000, int.MaxValue).ToString(CultureInfo.InvariantCulture)
            + RandomNumberGenerator.GetInt32(100_000, 999_999).ToString(CultureInfo.InvariantCulture),
        ["accessToken"] = "sandbox-" + SandboxAccount.Token(16),
        ["appSecret"] = SandboxAccount.Token(32),
        ["verifyToken"] = SandboxAccount.Token(16),
        // The demo's customers never wrote in: the sandbox's own account sends free-form to anyone (docs/TWO-WAY.md).
        ["serviceWindow"] = WhatsAppSettings.WindowOff,
    }));
}
