using Herald.Channels.Callbacks;
using Herald.Core.Notifications;
using Herald.Core.Customers;
using Herald.Core.Providers;
using Herald.Server.Consents;
using Herald.Storage;

namespace Herald.Server.Replies;

/// <summary>
/// The one entry point of every customer text, tap and key press (issue #16), whatever carried it: the callback
/// pipeline's batches of every channel and SMPP's mobile-originated deliver_sm reach <see cref="ProcessAsync"/> through
/// <see cref="IInboundMessageSink"/>. It correlates each message with the notification it answers, stores it (its
/// webhook event recorded in the same transaction) and acknowledges it at the vendor where the vendor wants that.
/// Keywords (STOP, START, HELP: <see cref="ConsentKeywords"/>) are recognised here, before correlation: an opt-out
/// keyword always acts, even as the text of an answer; an opt-in or help keyword only when the text names no choice of
/// the question it would answer. A keyword message is stored unlinked, and acted on once stored.
/// <list type="bullet">
/// <item>The account decides the tenant, never the payload: a reference to a notification of another tenant is refused
/// (the message is kept unlinked, for the account's tenant, and the refusal logged).</item>
/// <item>A reference (WhatsApp <c>context.id</c>, Telegram keyboard message) is looked up among the account's sends,
/// all of a batch in one round trip; a text without one (SMS, typed WhatsApp text) answers the latest open question to
/// that number sent through that account.</item>
/// <item>A reply after the question's reply time, or to a cancelled notification, is kept and marked late.</item>
/// </list>
/// </summary>
public sealed partial class InboundMessageProcessor(
    IDeliveryStore delivery,
    ICustomerMessageStore store,
    ConsentKeywords keywords,
    IEnumerable<IInboundAcknowledger> acknowledgers,
    ServiceWindows windows,
    TimeProvider time,
    ILogger<InboundMessageProcessor> logger) : IInboundMessageSink, IDisposable
{
    /// <summary>Inbound webhooks processed at once on a node; the others wait their turn (the vendor's request stays
    /// open meanwhile). A burst of replies is not latency-critical the way an outbound fraud alert is: on a 2-core node
    /// eight at a time took the CPU that critical sends needed (their p99 rose from 29 to 53 ms during a burst of
    /// 10,000 replies, bench `--only replies`).</summary>
    internal const int MaxConcurrent = 2;

    private readonly SemaphoreSlim _gate = new(MaxConcurrent, MaxConcurrent);
    private readonly Dictionary<string, IInboundAcknowledger> _acknowledgers = acknowledgers.ToDictionary(static a => a.Kind, StringComparer.Ordinal);

    public void Dispose() => _gate.Dispose();

    public Task AcceptAsync(ProviderAccount account, IReadOnlyList<InboundMessage> messages, CancellationToken ct) =>
        ProcessAsync(account, messages, ct);

    /// <summary>Correlates, stores and acknowledges what <paramref name="account"/> vouched for; answers what was stored
    /// (a vendor's retry of a message already stored is not stored or reported again).</summary>
    public async Task<IReadOnlyList<CustomerMessage>> ProcessAsync(ProviderAccount account, IReadOnlyList<InboundMessage> messages, CancellationToken ct)
    {
        if (messages.Count == 0)
        {
            return [];
        }

        await _gate.WaitAsync(ct);
        try
        {
            return await ProcessGatedAsync(account, messages, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<IReadOnlyList<CustomerMessage>> ProcessGatedAsync(ProviderAccount account, IReadOnlyList<InboundMessage> messages, CancellationToken ct)
    {
        messages = await WithoutRedeliveriesAsync(account, messages, ct);
        var now = time.GetUtcNow();
        var references = messages.Select(static m => m.InReplyTo).OfType<string>().Distinct(StringComparer.Ordinal).ToArray();
        var sent = references.Length == 0
            ? new Dictionary<string, (Notification Notification, Attempt Attempt)>()
            : await delivery.FindByProviderMessageIdsAsync(account.Id, references, ct);
        var keyword = await keywords.MatchAsync(account.TenantId, messages, ct);
        var stored = new List<CustomerMessage>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            Notification? answered = null;
            if (keyword[i] is { Action: KeywordAction.OptOut })
            {
                // STOP wins over any answer: carriers require it to work always.
            }
            else if (m.InReplyTo is { } reference)
            {
                answered = sent.TryGetValue(reference, out var found) ? found.Notification : null;
            }
            else if (m.Channel is Channel.Sms or Channel.WhatsApp)
            {
                answered = await store.FindOpenQuestionAsync(account.TenantId, account.Id, m.Channel, m.From, now, ct);
            }

            if (keyword[i] is { Action: not KeywordAction.OptOut } && answered is not null && ReplyActions.Match(answered.Actions, m.Text) is not null)
            {
                // "YES", "1", a choice's title: the answer to the open question wins over an opt-in or help keyword.
                keyword[i] = null;
            }
            else if (keyword[i] is not null)
            {
                answered = null;
            }

            if (answered is not null && answered.TenantId != account.TenantId)
            {
                LogForeignReference(logger, account.Id, answered.Id);
                answered = null;
            }

            stored.Add(Correlate(account, m, answered, TimeOrderedIds.New(now)));
        }

        // The consent ledger first: a crash before the messages are stored loses no STOP (the vendor retries).
        var answers = await keywords.RecordAsync(
            account, [.. stored.Select((s, i) => keyword[i] is { } k ? new KeywordAct(s, k) : null).OfType<KeywordAct>()], ct);
        var added = await store.AddAsync(stored, ct);
        // Every WhatsApp message opens the customer's 24-hour window with this account's number, a retry too.
        await windows.OpenedAsync(account, messages, ct);
        await AcknowledgeAsync(account, messages, ct);
        // A HELP is answered once, when its message is new; a consent change once, when its ledger entry is.
        var isNew = stored.Where((_, i) => added[i]).Select(static s => s.Id).ToHashSet();
        await keywords.AnswerAsync(account, [.. answers.Where(a => a.Keyword.Action != KeywordAction.Help || isNew.Contains(a.Message.Id))], ct);
        return [.. stored.Where((_, i) => added[i])];
    }

    /// <summary>What is stored of <paramref name="m"/> given the notification it answers (null: unlinked). Pure.</summary>
    public static CustomerMessage Correlate(ProviderAccount account, InboundMessage m, Notification? answered, Guid id)
    {
        string? actionId = m.ActionId;
        var late = false;
        if (answered is not null)
        {
            // A button's id must be one of the question's; typed text may name a choice by number, id or title.
            actionId = answered.Actions.Any(a => a.Id == m.ActionId) ? m.ActionId : ReplyActions.Match(answered.Actions, m.Text ?? m.ActionId)?.Id;
            late = answered.Status == NotificationStatus.Cancelled || (answered.ReplyUntil is { } until && m.At > until);
        }

        return new CustomerMessage(
            id, account.TenantId, account.Id, m.Channel, Storable(m.From, 64)!, Storable(m.ProviderMessageId, 256)!, answered?.Id,
            Storable(actionId, 256), Storable(m.Text, MaxTextLength), late, answered?.CustomerId, m.At);
    }

    /// <summary>The longest text kept: WhatsApp's and Telegram's own limit (4,096); SMS is shorter.</summary>
    public const int MaxTextLength = 4096;

    /// <summary>
    /// What a customer sent, made storable on both backends (see <see cref="Herald.Ingest.StorableText"/>): NUL and lone
    /// surrogates become U+FFFD and the length is capped. Refusing would make the vendor retry the webhook for ever over
    /// a customer's keystrokes, and one bad row would fail the batch it came with.
    /// </summary>
    public static string? Storable(string? text, int maxLength)
    {
        if (text is null)
        {
            return null;
        }

        if (text.Length > maxLength)
        {
            // Never cut a surrogate pair in half.
            text = text[..(char.IsHighSurrogate(text[maxLength - 1]) ? maxLength - 1 : maxLength)];
        }

        if (Herald.Ingest.StorableText.IsStorable(text))
        {
            return text;
        }

        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (chars[i] == '\0' || (char.IsHighSurrogate(chars[i]) && (i + 1 >= chars.Length || !char.IsLowSurrogate(chars[i + 1]))))
            {
                chars[i] = '\uFFFD';
            }
            else if (char.IsHighSurrogate(chars[i]))
            {
                i++; // a well-formed pair
            }
            else if (char.IsLowSurrogate(chars[i]))
            {
                chars[i] = '\uFFFD';
            }
        }

        return new string(chars);
    }

    /// <summary>Drops the messages an SMSC delivered again after their earlier window (SMPP names a message by its
    /// content per time bucket, <see cref="InboundMessage.EarlierId"/>); a redelivery in the same bucket has the same id
    /// and is skipped by the store itself, as a WhatsApp, Twilio or Telegram retry is.</summary>
    private async Task<IReadOnlyList<InboundMessage>> WithoutRedeliveriesAsync(ProviderAccount account, IReadOnlyList<InboundMessage> messages, CancellationToken ct)
    {
        var earlier = messages.Select(static m => m.EarlierId).OfType<string>().ToArray();
        if (earlier.Length == 0)
        {
            return messages;
        }

        var stored = await store.StoredProviderIdsAsync(account.Id, earlier, ct);
        return stored.Count == 0 ? messages : [.. messages.Where(m => m.EarlierId is null || !stored.Contains(m.EarlierId))];
    }

    private async Task AcknowledgeAsync(ProviderAccount account, IReadOnlyList<InboundMessage> messages, CancellationToken ct)
    {
        if (!_acknowledgers.TryGetValue(account.Kind, out var acknowledger))
        {
            return;
        }

        foreach (var m in messages)
        {
            try
            {
                await acknowledger.AcknowledgeAsync(account, m, ct);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                // The answer is stored and reported; only the customer's spinner waits for the vendor's own timeout.
                LogAcknowledgeFailed(logger, account.Id, e.GetType().Name);
            }
        }
    }

    [LoggerMessage(EventId = 4800, Level = LogLevel.Warning, Message = "Inbound message through account {AccountId} names notification {NotificationId} of another tenant; kept unlinked")]
    private static partial void LogForeignReference(ILogger logger, Guid accountId, Guid notificationId);

    [LoggerMessage(EventId = 4801, Level = LogLevel.Information, Message = "Inbound message through account {AccountId} could not be acknowledged at the vendor ({Error})")]
    private static partial void LogAcknowledgeFailed(ILogger logger, Guid accountId, string error);
}
