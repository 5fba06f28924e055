using System.Collections.Frozen;
using Herald.Channels.Providers;
using Herald.Core.Providers;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Telegram;

/// <summary>
/// Finds the Telegram bot account a webhook secret belongs to (the older <c>/callbacks/telegram/{secret}</c> path
/// names the account by it), over the directory's current accounts (<see cref="DirectoryIndex{T}"/>).
/// </summary>
public sealed partial class TelegramAccountMatcher(ProviderDirectory directory, ILogger<TelegramAccountMatcher> logger)
{
    private readonly DirectoryIndex<FrozenDictionary<string, ProviderAccount>> _bySecret = new(directory, all => Build(all, logger));

    /// <summary>The enabled Telegram bot account whose <c>webhookSecret</c> is <paramref name="secret"/> (compared in
    /// constant time after a lookup by its hash); null when none, or when two accounts share it.</summary>
    public ProviderAccount? FindByWebhookSecret(string secret) =>
        _bySecret.Current.TryGetValue(TelegramWebhook.SecretKey(secret), out var account)
        && TelegramSettings.Parse(account.Settings).WebhookSecret is { } expected
        && TelegramWebhook.VerifySecret(secret, expected)
            ? account
            : null;

    private static FrozenDictionary<string, ProviderAccount> Build(IReadOnlyList<ProviderAccount> all, ILogger logger)
    {
        var bySecret = new Dictionary<string, ProviderAccount?>(StringComparer.Ordinal);
        foreach (var account in all.Where(static a => a.Kind == TelegramBotConnector.ConnectorKind))
        {
            try
            {
                if (TelegramSettings.Parse(account.Settings).WebhookSecret is { Length: > 0 } secret)
                {
                    // A secret shared by two accounts routes to neither: a callback must name one account.
                    var key = TelegramWebhook.SecretKey(secret);
                    if (!bySecret.TryAdd(key, account))
                    {
                        bySecret[key] = null;
                    }
                }
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
            {
                LogBadSettings(logger, account.Id, e.Message);
            }
        }

        return bySecret
            .Where(static p => p.Value is not null)
            .ToFrozenDictionary(static p => p.Key, static p => p.Value!, StringComparer.Ordinal);
    }

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Provider account {AccountId} has unusable settings: {Reason}")]
    private static partial void LogBadSettings(ILogger logger, Guid accountId, string reason);
}
