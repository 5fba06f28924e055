using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Channels.Providers;
using Herald.Core.Notifications;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald.Channels.Sms;

/// <summary>Twilio-style SMS: the connector, status callbacks (handler), the sandbox account.</summary>
public static class TwilioSmsChannel
{
    /// <summary>Its settings: fields, which are required and which are secrets, validation, egress, sender identity.</summary>
    public static ConnectorDefinition Definition { get; } =
    new(TwilioSmsConnector.ConnectorKind, Channel.Sms,
    [
        new("baseUrl", false, false, "REST API base URL (default https://api.twilio.com)."),
        new("accountSid", true, false, "Account SID (AC...)."),
        new("authToken", true, true, "Auth token: API password and status callback signing key."),
        new("from", false, false, "Sender number, short code or alphanumeric id (this or messagingServiceSid)."),
        new("messagingServiceSid", false, false, "Messaging Service SID (this or from)."),
        new("statusCallbackUrl", false, false, "Where status callbacks go; {providerId} is replaced by the account id."),
    ], static e => TwilioSettings.Parse(e), static e => [EgressDestination.ForUrl("baseUrl", TwilioSettings.Parse(e).BaseUrl)],
        // One vendor account sends from several numbers (a tenant's pool); the pair names one sender.
        static e => TwilioSettings.Parse(e) is var t ? $"twilio:{t.AccountSid}:{t.From ?? t.MessagingServiceSid}" : "");

    // After Definition: static initializers run in text order.
    public static ChannelPlugin Plugin { get; } = new(Definition, Register, Sandbox, CallbackAliases: [new("POST", "/sms/{accountId:guid}")]);

    private static void Register(IServiceCollection services, IConfiguration configuration)
    {
        ChannelsServiceCollectionExtensions.AddConnectorClient(services, ChannelHttpClients.TwilioSms);
        services.TryAddSingleton<TwilioSmsConnector>();
        services.AddSingleton<IChannelConnector>(static sp => sp.GetRequiredService<TwilioSmsConnector>());
        services.AddSingleton<IChannelCallbackHandler, TwilioCallbackHandler>();
    }

    /// <summary>Status callbacks on the older <c>/callbacks/sms/{providerId}</c> path (an alias of the generic route),
    /// which the sandbox has always called.</summary>
    private static SandboxAccount Sandbox(SandboxContext context) => new("Sandbox SMS", JsonSerializer.Serialize(new Dictionary<string, string>
    {
        ["baseUrl"] = context.SandboxBaseUrl + "/sms",
        ["accountSid"] = "AC" + SandboxAccount.Token(16),
        ["authToken"] = SandboxAccount.Token(16),
        ["from"] = "+15005550006",
        ["statusCallbackUrl"] = context.HeraldBaseUrl + "/callbacks/sms/" + TwilioSettings.ProviderIdPlaceholder,
    }));
}
