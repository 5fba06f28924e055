using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Channels.Providers;
using Herald.Core.Notifications;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald.Channels.Email;

/// <summary>SMTP relay: the connector, bounce reports handed in by the bank's mail system (handler), the sandbox account.</summary>
public static class SmtpChannel
{
    /// <summary>Its settings: fields, which are required and which are secrets, validation, egress, sender identity.</summary>
    public static ConnectorDefinition Definition { get; } =
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
    ], static e => SmtpSettings.Parse(e), static e => SmtpSettings.Parse(e) is var s ? [new EgressDestination("host", null, s.Host, s.Port)] : []);

    // After Definition: static initializers run in text order.
    public static ChannelPlugin Plugin { get; } = new(Definition, Register, Sandbox, CallbackAliases: [new("POST", "/email/{accountId:guid}")]);

    private static void Register(IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton<SmtpEmailConnector>();
        services.AddSingleton<IChannelConnector>(static sp => sp.GetRequiredService<SmtpEmailConnector>());
        services.AddSingleton<IChannelCallbackHandler, BounceCallbackHandler>();
    }

    /// <summary>The sandbox SMTP server's account, when it listens (its port must outlive restarts: see SmtpPort).
    /// Bounces come back to <c>bounces+{accountId}@…</c>; the sandbox hands them to <c>/callbacks/email/{accountId}</c>
    /// with this account's own token (SandboxAccountSecrets), as a bank's mail system would with the token configured here.</summary>
    private static SandboxAccount? Sandbox(SandboxContext context)
    {
        if (context.Smtp is not { } smtp)
        {
            return null;
        }

        var domain = context.TenantId.ToString("N")[..12] + ".sandbox.test";
        return new("Sandbox Email", JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["host"] = smtp.Host,
            ["port"] = smtp.Port,
            ["security"] = "none",
            ["username"] = context.TenantId.ToString(),
            ["password"] = SandboxAccount.Token(16),
            ["fromAddress"] = "notifications@" + domain,
            ["fromName"] = context.TenantName,
            ["bounceAddress"] = context.SmtpBouncePrefix + SmtpSettings.AccountIdPlaceholder + "@" + domain,
            ["bounceToken"] = SandboxAccount.Token(24),
        }));
    }
}
