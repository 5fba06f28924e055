using Herald.Channels.Email;
using Herald.Channels.Providers;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Herald.Sandbox;
using Herald.Sandbox.Callbacks;
using Microsoft.Extensions.Options;

namespace Herald.Server.Providers;

/// <summary>
/// The in-process sandbox signs each callback with the secret of the account it is for, read from the provider
/// directory like every other use of an account's settings: a sandbox account's app secret and bounce token are its
/// own, random per account (TenantProvisioning), so one tenant cannot sign another's receipts (issue #13).
/// <see cref="SandboxOptions.AppSecret"/>, when configured, answers for numbers and accounts Herald does not hold.
/// </summary>
public sealed class SandboxAccountSecrets(ProviderDirectory directory, WhatsAppAccountMatcher whatsApp, IOptions<SandboxOptions> options) : ISandboxCallbackSecrets
{
    public string? WhatsAppAppSecret(string phoneNumberId)
    {
        foreach (var account in whatsApp.FindByPhoneNumberId(phoneNumberId))
        {
            if (TryParse(() => WhatsAppSettings.Parse(account.Settings).AppSecret) is { Length: > 0 } secret)
            {
                return secret;
            }
        }

        return options.Value.AppSecret;
    }

    public string? EmailBounceToken(Guid accountId) =>
        directory.Find(accountId) is { Kind: SmtpEmailConnector.ConnectorKind } account
            ? TryParse(() => SmtpSettings.Parse(account.Settings).BounceToken)
            : options.Value.AppSecret;

    public string? TelegramWebhookSecret(string botId)
    {
        foreach (var account in directory.All)
        {
            if (account.Kind == TelegramBotConnector.ConnectorKind
                && TryParse(() => TelegramSettings.Parse(account.Settings) is { } s && s.BotToken.StartsWith(botId + ":", StringComparison.Ordinal) ? s.WebhookSecret : null) is { Length: > 0 } secret)
            {
                return secret;
            }
        }

        return null;
    }

    private static string? TryParse(Func<string?> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
