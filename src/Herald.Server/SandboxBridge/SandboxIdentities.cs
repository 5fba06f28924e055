using Herald.Channels.Email;
using Herald.Channels.Sms;
using Herald.Channels.Sms.Smpp;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Herald.Core.Providers;
using Herald.Sandbox.Mailbox;

namespace Herald.Server.SandboxBridge;

/// <summary>
/// How one of the tenant's provider accounts shows in the in-process sandbox: the mailbox channel, the account name
/// the simulator records (<see cref="SandboxMessage.Account"/>), the hash of the secret it authenticated with
/// (<see cref="SandboxMessage.Credential"/>) and the key the simulator's outages go by.
/// </summary>
/// <param name="OutageKey">What <see cref="Herald.Sandbox.Outages.SandboxOutages"/> is keyed by for this account: the
/// phone number id, bot token, account SID, SMPP system_id or SMTP user.</param>
public sealed record SandboxIdentity(ProviderAccount Provider, string Channel, string Account, string Credential, string OutageKey)
{
    /// <summary>Whether <paramref name="message"/> was sent through this account: the same channel, the same account
    /// name and the same secret. The account name alone is not enough: phone number ids, account SIDs and SMTP users
    /// are not secrets, and the simulators accept any credential, so another tenant could store an account naming
    /// them; the secret, random per sandbox account, it cannot know.</summary>
    public bool Sent(SandboxMessage message) =>
        message.Credential is { } credential
        && string.Equals(message.Channel, Channel, StringComparison.Ordinal)
        && string.Equals(message.Account, Account, StringComparison.Ordinal)
        && string.Equals(credential, Credential, StringComparison.Ordinal);
}

/// <summary>The <see cref="SandboxIdentity"/> of each account of a tenant that the sandbox can record (push is not
/// matched: its simulator takes unknown service accounts' tokens unverified, so a send names no proven identity).</summary>
public static class SandboxIdentities
{
    /// <summary>The identities of <paramref name="accounts"/> (settings decrypted by the store); accounts whose
    /// settings do not parse or carry no secret are left out.</summary>
    public static IReadOnlyList<SandboxIdentity> Of(IEnumerable<ProviderAccount> accounts)
    {
        var identities = new List<SandboxIdentity>();
        foreach (var account in accounts)
        {
            try
            {
                if (Of(account) is { } identity)
                {
                    identities.Add(identity);
                }
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or ArgumentException)
            {
                // Settings the connector would refuse as well: nothing was sent through them.
            }
        }

        return identities;
    }

    private static SandboxIdentity? Of(ProviderAccount account) => account.Kind switch
    {
        WhatsAppCloudConnector.ConnectorKind when WhatsAppSettings.Parse(account.Settings) is var s =>
            new(account, "whatsapp", s.PhoneNumberId, SandboxMessage.CredentialOf(s.AccessToken), s.PhoneNumberId),
        TelegramBotConnector.ConnectorKind when TelegramSettings.Parse(account.Settings) is var s && s.BotToken.IndexOf(':', StringComparison.Ordinal) is > 0 and var colon =>
            new(account, "telegram", s.BotToken[..colon], SandboxMessage.CredentialOf(s.BotToken), s.BotToken),
        TwilioSmsConnector.ConnectorKind when TwilioSettings.Parse(account.Settings) is var s =>
            new(account, "sms", s.AccountSid, SandboxMessage.CredentialOf(s.AuthToken), s.AccountSid),
        SmppSmsConnector.ConnectorKind when SmppSettings.Parse(account.Settings) is var s && s.Password.Length > 0 =>
            new(account, "sms", s.SystemId, SandboxMessage.CredentialOf(s.Password), s.SystemId),
        SmtpEmailConnector.ConnectorKind when SmtpSettings.Parse(account.Settings) is { Username.Length: > 0, Password.Length: > 0 } s =>
            new(account, "email", s.Username!, SandboxMessage.CredentialOf(s.Password!), s.Username!),
        _ => null,
    };
}
