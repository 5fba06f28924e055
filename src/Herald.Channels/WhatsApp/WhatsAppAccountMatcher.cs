using System.Collections.Frozen;
using Herald.Channels.Providers;
using Herald.Core.Providers;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.WhatsApp;

/// <summary>
/// Finds WhatsApp Cloud accounts by the business phone number id Meta's webhooks name, over the directory's current
/// accounts (<see cref="DirectoryIndex{T}"/>).
/// </summary>
public sealed partial class WhatsAppAccountMatcher(ProviderDirectory directory, ILogger<WhatsAppAccountMatcher> logger)
{
    private readonly DirectoryIndex<FrozenDictionary<string, IReadOnlyList<ProviderAccount>>> _byPhoneNumberId = new(directory, all => Build(all, logger));

    /// <summary>
    /// The enabled WhatsApp Cloud accounts that name a business phone number id, the one holding it as its sender identity
    /// first, then the others in the store's order. A sender identity has one live owner (the stores' unique index), so
    /// this is one account, except for accounts stored before identities were enforced: a status webhook is bound to
    /// the one whose app secret verifies its signature, never simply the first, so a second registration of a number
    /// cannot make the owner's genuine receipts fail.
    /// </summary>
    public IReadOnlyList<ProviderAccount> FindByPhoneNumberId(string phoneNumberId) =>
        _byPhoneNumberId.Current.TryGetValue(phoneNumberId, out var accounts) ? accounts : [];

    private static FrozenDictionary<string, IReadOnlyList<ProviderAccount>> Build(IReadOnlyList<ProviderAccount> all, ILogger logger)
    {
        var byPhone = new Dictionary<string, List<ProviderAccount>>(StringComparer.Ordinal);
        foreach (var account in all.Where(static a => a.Kind == WhatsAppCloudConnector.ConnectorKind))
        {
            string phoneNumberId;
            try
            {
                phoneNumberId = WhatsAppSettings.Parse(account.Settings).PhoneNumberId;
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
            {
                LogBadSettings(logger, account.Id, e.Message);
                continue;
            }

            if (byPhone.TryGetValue(phoneNumberId, out var holders))
            {
                LogDuplicatePhoneNumberId(logger, phoneNumberId, holders[0].Id, account.Id);
                holders.Add(account);
            }
            else
            {
                byPhone[phoneNumberId] = [account];
            }
        }

        // The account holding the number as its sender identity first: the sandbox signs with the first one's secret.
        return byPhone.ToFrozenDictionary(
            static p => p.Key,
            static p => (IReadOnlyList<ProviderAccount>)[.. p.Value.OrderBy(static a => a.SenderIdentity is null)],
            StringComparer.Ordinal);
    }

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Provider account {AccountId} has unusable settings: {Reason}")]
    private static partial void LogBadSettings(ILogger logger, Guid accountId, string reason);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "WhatsApp phone number id {PhoneNumberId} is used by accounts {FirstAccountId} and {OtherAccountId} (stored before sender identities were unique); each webhook goes to the account whose app secret signed it")]
    private static partial void LogDuplicatePhoneNumberId(ILogger logger, string phoneNumberId, Guid firstAccountId, Guid otherAccountId);
}
