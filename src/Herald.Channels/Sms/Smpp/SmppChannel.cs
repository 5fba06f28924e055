using System.Text.Json;
using Herald.Channels.Providers;
using Herald.Core.Notifications;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Channels.Sms.Smpp;

/// <summary>SMPP 3.4: the connector and its sessions (receipts come on the bind, through the receipt sink), the sandbox account.</summary>
public static class SmppChannel
{
    /// <summary>Its settings: fields, which are required and which are secrets, validation, egress, sender identity.</summary>
    public static ConnectorDefinition Definition { get; } =
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
        static e => SmppSettings.Parse(e) is var p ? $"smpp:{p.Host.ToLowerInvariant()}:{p.SystemId}" : "");

    // After Definition: static initializers run in text order.
    public static ChannelPlugin Plugin { get; } = new(Definition, Register, Sandbox);

    private static void Register(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSmppConnector();
    }

    /// <summary>The sandbox SMSC's account, a standby (weight 0) next to the Twilio-style one, when it listens.</summary>
    private static SandboxAccount? Sandbox(SandboxContext context) => context.Smpp is not { } smsc ? null : new("Sandbox SMPP", JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["host"] = smsc.Host,
        ["port"] = smsc.Port,
        ["systemId"] = "t" + context.TenantId.ToString("N")[..14],
        ["password"] = SandboxAccount.Token(4),
        ["sourceAddr"] = "HERALD",
    }), Weight: 0);
}
