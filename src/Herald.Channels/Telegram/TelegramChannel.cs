using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Channels.Providers;
using Herald.Core.Notifications;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald.Channels.Telegram;

/// <summary>Telegram Bot API: the connector, the webhook (handler and webhook secret matcher), the sandbox account.</summary>
public static class TelegramChannel
{
    /// <summary>Its settings: fields, which are required and which are secrets, validation, egress, sender identity.</summary>
    public static ConnectorDefinition Definition { get; } =
    new(TelegramBotConnector.ConnectorKind, Channel.Telegram,
    [
        new("baseUrl", false, false, "Bot API base URL (default https://api.telegram.org)."),
        new("botToken", true, true, "The bot's token from @BotFather."),
        new("webhookSecret", false, true, "secret_token given to setWebhook."),
    ], static e => TelegramSettings.Parse(e), static e => [EgressDestination.ForUrl("baseUrl", TelegramSettings.Parse(e).BaseUrl)],
        // A bot has one webhook (setWebhook) and is named by the id before the token's colon.
        static e => "telegram:" + TelegramSettings.Parse(e).BotId);

    // After Definition: static initializers run in text order.
    public static ChannelPlugin Plugin { get; } = new(Definition, Register, Sandbox, CallbackAliases: [new("POST", "/telegram/{secret}")]);

    private static void Register(IServiceCollection services, IConfiguration configuration)
    {
        ChannelsServiceCollectionExtensions.AddConnectorClient(services, ChannelHttpClients.Telegram);
        services.TryAddSingleton<TelegramBotConnector>();
        services.AddSingleton<IChannelConnector>(static sp => sp.GetRequiredService<TelegramBotConnector>());
        services.AddSingleton<Callbacks.IInboundAcknowledger>(static sp => sp.GetRequiredService<TelegramBotConnector>());
        services.TryAddSingleton<TelegramAccountMatcher>();
        services.AddSingleton<IChannelCallbackHandler, TelegramCallbackHandler>();
    }

    private static SandboxAccount Sandbox(SandboxContext context) => new("Sandbox Telegram", JsonSerializer.Serialize(new Dictionary<string, string>
    {
        ["baseUrl"] = context.SandboxBaseUrl + "/telegram",
        ["botToken"] = RandomNumberGenerator.GetInt32(100_000_000, int.MaxValue).ToString(CultureInfo.InvariantCulture) + ":" + SandboxAccount.Token(24),
        ["webhookSecret"] = SandboxAccount.Token(24),
    }));
}
