using Herald.Channels.Callbacks;
using Herald.Channels.Email;
using Herald.Channels.Providers;
using Herald.Channels.Push;
using Herald.Channels.Sms;
using Herald.Channels.Sms.Smpp;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Channels;

/// <summary>
/// Everything Herald knows about one connector kind, from its channel's folder: its definition (settings schema,
/// redaction, validation, sender identity), how it registers (connector, HTTP client, callback handler, account
/// matcher) and the sandbox account a new tenant gets for it.
/// </summary>
/// <param name="Register">Adds the connector and its inbound side to the container (called by AddHeraldChannels).</param>
/// <param name="Sandbox">The settings of the sandbox account a tenant gets for this kind; null when it gets none or
/// the simulator it needs does not run.</param>
/// <param name="CallbackAliases">Paths (under <c>/callbacks</c>) the channel's callbacks answered on before the generic
/// route, kept working. Plain data, so the host maps them without building any service.</param>
public sealed record ChannelPlugin(
    ConnectorDefinition Definition,
    Action<IServiceCollection, IConfiguration> Register,
    Func<SandboxContext, SandboxAccount?>? Sandbox = null,
    IReadOnlyList<CallbackAlias>? CallbackAliases = null);

/// <summary>Where the sandbox runs, for <see cref="ChannelPlugin.Sandbox"/>: filled by the host from its simulators.</summary>
/// <param name="SandboxBaseUrl">The in-process sandbox's base URL (<c>{herald}/sandbox</c>).</param>
/// <param name="HeraldBaseUrl">Herald's own base URL, for callback URLs the vendor is told.</param>
/// <param name="Smtp">The SMTP simulator's host and port, when it listens.</param>
/// <param name="SmtpBouncePrefix">The local-part prefix the SMTP simulator returns bounces to (VERP).</param>
/// <param name="Smpp">The SMSC simulator's host and port, when it listens.</param>
/// <param name="FcmServiceAccount">Provisions a throwaway service account the FCM simulator verifies (settings JSON).</param>
public sealed record SandboxContext(
    Guid TenantId,
    string TenantName,
    string SandboxBaseUrl,
    string HeraldBaseUrl,
    (string Host, int Port)? Smtp,
    string SmtpBouncePrefix,
    (string Host, int Port)? Smpp,
    Func<string, string, string> FcmServiceAccount);

/// <summary>A sandbox account's name, settings JSON and weight (0: a standby).</summary>
public sealed record SandboxAccount(string Name, string Settings, int Weight = 100)
{
    /// <summary>A random secret of <paramref name="bytes"/> bytes, as lower-case hex.</summary>
    public static string Token(int bytes) => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(bytes));
}

/// <summary>The built-in channels. Adding a channel means its folder and one line here.</summary>
public static class ChannelCatalog
{
    public static IReadOnlyList<ChannelPlugin> All { get; } =
    [
        WhatsAppChannel.Plugin,
        TelegramChannel.Plugin,
        TwilioSmsChannel.Plugin,
        SmtpChannel.Plugin,
        SmppChannel.Plugin,
        FcmChannel.Plugin,
    ];
}
