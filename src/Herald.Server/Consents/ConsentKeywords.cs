using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Planning;
using Herald.Core.Providers;
using Herald.Core.Rules;
using Herald.Storage;

namespace Herald.Server.Consents;

/// <summary>One keyword a customer sent: the stored message that carried it and what it does.</summary>
public sealed record KeywordAct(CustomerMessage Message, Keyword Keyword);

/// <summary>
/// Keywords on the inbound path (issue #16; docs/TWO-WAY.md "Keywords"): <see cref="Replies.InboundMessageProcessor"/>
/// asks which messages are keywords (<see cref="MatchAsync"/>, one settings read per batch) and, once they are stored,
/// has them recorded and answered (<see cref="RecordAsync"/>, <see cref="AnswerAsync(ProviderAccount, IReadOnlyList{KeywordAct}, CancellationToken)"/>): an opt-out or opt-in goes to the consent ledger at once (the store
/// announces it, so every node's routing honours it), and the customer gets the confirmation or the help text on the
/// channel it wrote on, as a notification of Herald's own (<see cref="ConsentTypes"/>) through the normal delivery path.
/// </summary>
public sealed partial class ConsentKeywords(
    IConsentStore consents,
    INotificationStore notifications,
    NotificationPlanner planner,
    Notifications.GroupKeys groupKeys,
    IRuleSetSource rules,
    TimeProvider time,
    ILogger<ConsentKeywords> logger)
{
    /// <summary>The keyword each message is, by the tenant's settings (or the defaults); null where it is none. Taps of
    /// a button or key are never keywords: only typed text is.</summary>
    public async Task<Keyword?[]> MatchAsync(Guid tenantId, IReadOnlyList<InboundMessage> messages, CancellationToken ct)
    {
        var found = new Keyword?[messages.Count];
        KeywordSettings? settings = null;
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.ActionId is not null || m.Text is not { Length: > 0 and <= KeywordSettings.MaxWordLength * 2 })
            {
                continue;
            }

            settings ??= (await consents.GetKeywordsAsync(tenantId, ct)).Settings ?? KeywordSettings.Defaults;
            found[i] = settings.Match(m.Text);
        }

        return found;
    }

    /// <summary>
    /// Records the opt-outs and opt-ins of <paramref name="acts"/> in the consent ledger, in one transaction, before their
    /// messages are stored (so a crash between the two loses no consent: the vendor's retry finds it recorded). A
    /// vendor's retry records nothing twice: ledger entries carry the vendor's message id. Answers what is to be
    /// answered: the newly recorded entries and every HELP.
    /// </summary>
    public async Task<IReadOnlyList<KeywordAct>> RecordAsync(ProviderAccount account, IReadOnlyList<KeywordAct> acts, CancellationToken ct)
    {
        if (acts.Count == 0)
        {
            return [];
        }

        var now = time.GetUtcNow();
        var recorded = new List<(KeywordAct Act, NewConsent Entry)>();
        var answers = new List<KeywordAct>();
        foreach (var act in acts)
        {
            if (act.Keyword.Action == KeywordAction.Help)
            {
                answers.Add(act);
            }
            else if (ConsentAddress.Normalize(act.Message.Channel, act.Message.From) is not { } address)
            {
                LogUnaddressable(logger, account.Id, act.Message.Channel);
            }
            else
            {
                var entry = new ConsentEntry(
                    TimeOrderedIds.New(now), account.TenantId, act.Message.CustomerId, act.Message.Channel, address, act.Keyword.Type,
                    act.Keyword.Action == KeywordAction.OptOut ? ConsentAction.OptOut : ConsentAction.OptIn, ConsentSource.Keyword,
                    ConsentEntry.CustomerActor, act.Message.ReceivedAt, act.Message.Id);
                recorded.Add((act, new NewConsent(entry, InboundRef(account.Id, act.Message.ProviderMessageId))));
            }
        }

        var appended = await consents.AppendAsync([.. recorded.Select(static r => r.Entry)], ct);
        for (var i = 0; i < recorded.Count; i++)
        {
            if (appended[i])
            {
                LogConsentRecorded(logger, account.TenantId, recorded[i].Act.Message.Channel, recorded[i].Act.Keyword.Action);
                answers.Add(recorded[i].Act);
            }
        }

        return answers;
    }

    /// <summary>Answers each act on the channel it came on: the confirmation or the help text in the keyword's language.
    /// An answer that cannot be sent is logged: the ledger entry stands.</summary>
    public async Task AnswerAsync(ProviderAccount account, IReadOnlyList<KeywordAct> acts, CancellationToken ct)
    {
        if (acts.Count == 0)
        {
            return;
        }

        var settings = (await consents.GetKeywordsAsync(account.TenantId, ct)).Settings ?? KeywordSettings.Defaults;
        foreach (var act in acts)
        {
            await AnswerAsync(account, act, settings, time.GetUtcNow(), ct);
        }
    }

    /// <summary>The ledger's idempotency reference of a keyword message: its account and the vendor's id.</summary>
    public static string InboundRef(Guid accountId, string providerMessageId) => accountId.ToString("N") + ":" + providerMessageId;

    private async Task AnswerAsync(ProviderAccount account, KeywordAct act, KeywordSettings settings, DateTimeOffset now, CancellationToken ct)
    {
        var m = act.Message;
        var language = act.Keyword.Language ?? "en";
        var text = settings.TextsFor(language).For(act.Keyword.Action);
        var address = ConsentAddress.Normalize(m.Channel, m.From) ?? m.From;
        var contacts = m.Channel switch
        {
            Channel.Telegram => new Contacts(TelegramChatId: address, Language: language),
            Channel.Email => new Contacts(Email: address, Language: language),
            _ => new Contacts(Phone: address, Language: language),
        };
        var request = new NewNotification(
            account.TenantId, null, act.Keyword.Action == KeywordAction.Help ? ConsentTypes.Help : ConsentTypes.Confirmation, null, contacts,
            JsonSerializer.Serialize(new AnswerData(text), ConsentJson.Default.AnswerData), Priority.High, [m.Channel], null, null, null)
        {
            // Carriers expect the STOP confirmation (the one send to an address that just opted out) and a HELP answer
            // whatever the customer's consent.
            IgnoresOptOuts = true,
        };
        var plan = await groupKeys.SealAsync(planner.Plan(TimeOrderedIds.New(now), request, null, rules.For(account.TenantId), now), ct);
        if (plan.Prepared is not { } prepared)
        {
            LogAnswerFailed(logger, account.TenantId, m.Channel, plan.Error?.Detail ?? "not planned");
            return;
        }

        try
        {
            await notifications.AcceptAsync([prepared], now, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogAnswerFailed(logger, account.TenantId, m.Channel, e.GetType().Name);
        }
    }

    [LoggerMessage(EventId = 4810, Level = LogLevel.Information, Message = "Tenant {TenantId}: a customer's keyword recorded {Action} on {Channel} in the consent ledger")]
    private static partial void LogConsentRecorded(ILogger logger, Guid tenantId, Channel channel, KeywordAction action);

    [LoggerMessage(EventId = 4811, Level = LogLevel.Warning, Message = "Keyword through account {AccountId} on {Channel} came from no usable address; nothing recorded")]
    private static partial void LogUnaddressable(ILogger logger, Guid accountId, Channel channel);

    [LoggerMessage(EventId = 4812, Level = LogLevel.Warning, Message = "Tenant {TenantId}: the answer to a keyword on {Channel} was not sent ({Reason}); the ledger entry stands")]
    private static partial void LogAnswerFailed(ILogger logger, Guid tenantId, Channel channel, string reason);
}

/// <summary>The notification types of Herald's own answers to keywords; rules can match them like any type.</summary>
public static class ConsentTypes
{
    /// <summary>The confirmation of an opt-out or opt-in; it ignores opt-outs (the carriers' STOP confirmation).</summary>
    public const string Confirmation = "herald.consent";

    /// <summary>The tenant's help text; like the confirmation, it ignores opt-outs (carriers require HELP answered).</summary>
    public const string Help = "herald.help";
}

internal sealed record AnswerData(string Text);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[System.Text.Json.Serialization.JsonSerializable(typeof(AnswerData))]
internal sealed partial class ConsentJson : System.Text.Json.Serialization.JsonSerializerContext;
