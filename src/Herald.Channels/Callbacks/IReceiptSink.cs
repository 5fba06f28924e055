using Herald.Core.Notifications;
using Herald.Core.Providers;

namespace Herald.Channels.Callbacks;

/// <summary>
/// What one provider request or session event brought in, vouched for by one account (whose signature, token or bind
/// it came through): receipts, and what customers sent (issue #16).
/// </summary>
/// <param name="Account">The account that vouched for it: receipts only ever reach that account's attempts, and
/// messages belong to that account's tenant.</param>
public sealed record InboundBatch(ProviderAccount Account, IReadOnlyList<ProviderReceipt> Receipts)
{
    /// <summary>Texts, taps and button replies customers sent through the account (issue #16).</summary>
    public IReadOnlyList<InboundMessage> Messages { get; init; } = [];

    /// <summary>The receipts may name one part of a multi-part message (SMPP: one receipt per submit_sm), so they are
    /// gathered per attempt (see <see cref="IReceiptSink.RecordPartsAsync"/>) before they reach it.</summary>
    public bool MayNameParts { get; init; }
}

/// <summary>
/// The one door receipts enter Herald through, whatever carried them: an HTTP callback (the generic
/// <c>/callbacks/{kind}/{accountId}</c> route) or a connector's own connection (an SMPP deliver_sm). The host
/// implements it once over its receipt processor. A call that throws tells the caller Herald could not take the
/// receipts now (the SMPP client then answers ESME_RX_T_APPN so the SMSC delivers them again).
/// </summary>
public interface IReceiptSink
{
    Task AcceptAsync(InboundBatch batch, CancellationToken ct);

    /// <summary>
    /// Records durably the SMSC message ids of every part of a concatenated message (index 0 first: the id the
    /// attempt carries), so that each part's receipt counts, also after a restart or on another node: the attempt is
    /// delivered when every part is, and fails when one part does. Called once all parts were accepted, before the
    /// send's outcome is returned. A call that throws leaves the attempt to its first part's receipt.
    /// </summary>
    Task RecordPartsAsync(ProviderAccount account, Guid attemptId, IReadOnlyList<string> partIds, CancellationToken ct);
}

/// <summary>
/// What a customer sent, as a channel read it from the vendor's webhook or session, not yet correlated.
/// </summary>
/// <param name="From">The customer's address: E.164 phone (WhatsApp, SMS) or Telegram chat id.</param>
/// <param name="ProviderMessageId">The vendor's id of this inbound message (a retry of the same one has the same id).</param>
public sealed record InboundMessage(Channel Channel, string From, string ProviderMessageId, DateTimeOffset At)
{
    /// <summary>What the customer wrote, or the title of the button tapped.</summary>
    public string? Text { get; init; }

    /// <summary>The id of the reply choice a button or key carried; null for typed text.</summary>
    public string? ActionId { get; init; }

    /// <summary>The provider message id of our message this answers (WhatsApp <c>context.id</c>, Telegram
    /// <c>chat:message</c> of the keyboard message), when the vendor says; null for SMS.</summary>
    public string? InReplyTo { get; init; }

    /// <summary>For a vendor that gives no message id (SMPP mobile-originated messages, named by their content within a
    /// time bucket): the name the same message had in the previous bucket. One already stored under it is the same
    /// message delivered again, and is not stored or reported twice.</summary>
    public string? EarlierId { get; init; }

    /// <summary>Telegram: the callback query to answer (<c>answerCallbackQuery</c>), so the client stops its spinner.</summary>
    public string? CallbackQueryId { get; init; }
}

/// <summary>
/// The one door customers' messages enter Herald through (issue #16), whatever carried them: an HTTP callback or a
/// connector's own connection (an SMPP mobile-originated deliver_sm). The host implements it once; every inbound
/// text passes there, so keyword handling (STOP, START, HELP) can hook in at one place. A call that throws tells the
/// caller Herald could not take them now (the vendor retries; the SMPP client answers ESME_RX_T_APPN).
/// </summary>
public interface IInboundMessageSink
{
    Task AcceptAsync(ProviderAccount account, IReadOnlyList<InboundMessage> messages, CancellationToken ct);
}

/// <summary>
/// A connector that must acknowledge some inbound messages at the vendor once Herald took them (Telegram's
/// <c>answerCallbackQuery</c>). Found by the account's kind.
/// </summary>
public interface IInboundAcknowledger
{
    /// <summary>The <see cref="ProviderAccount.Kind"/> it serves.</summary>
    string Kind { get; }

    /// <summary>Best effort: a failure is logged by the caller, never retried (the customer's answer is stored).</summary>
    Task AcknowledgeAsync(ProviderAccount account, InboundMessage message, CancellationToken ct);
}

/// <summary>The sink when the host registered none: refuses, so the SMSC keeps the receipts for a later bind.</summary>
internal sealed class NoReceiptSink : IReceiptSink
{
    public Task AcceptAsync(InboundBatch batch, CancellationToken ct) =>
        Task.FromException(new InvalidOperationException("no IReceiptSink is registered"));

    public Task RecordPartsAsync(ProviderAccount account, Guid attemptId, IReadOnlyList<string> partIds, CancellationToken ct) =>
        Task.FromException(new InvalidOperationException("no IReceiptSink is registered"));
}
