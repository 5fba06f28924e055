using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;

namespace Herald.Channels;

/// <summary>A WhatsApp approved template for business-initiated messages.</summary>
/// <param name="BodyParameters">Positional body parameters ({{1}}, {{2}}, ...), as text.</param>
public sealed record WhatsAppTemplate(string Name, string Language, IReadOnlyList<string> BodyParameters);

/// <summary>One message to send on one channel.</summary>
/// <param name="To">The channel address: E.164 phone, Telegram chat id, email address or push token.</param>
/// <param name="AttemptId">Unique per try; connectors that support it pass it on as the provider's idempotency or
/// correlation key.</param>
/// <param name="Subject">Email only: the subject a template rendered; null keeps the account's configured subject.</param>
public sealed record OutboundMessage(Guid NotificationId, Guid AttemptId, string To, string Text, WhatsAppTemplate? Template = null, string? Subject = null)
{
    /// <summary>The notification's lane: a provider rate limit serves higher lanes first.</summary>
    public Priority Priority { get; init; } = Priority.Normal;

    /// <summary>Email only: the HTML part a template rendered; null sends <see cref="Text"/> as the HTML part too.</summary>
    public string? Html { get; init; }

    /// <summary>Reply choices (issue #16), rendered the channel's native way: WhatsApp reply buttons, a Telegram inline
    /// keyboard, push data. Text channels get them as text in <see cref="Text"/> already (the composer's footer).</summary>
    public IReadOnlyList<NotificationAction> Actions { get; init; } = [];

    /// <summary>The choices as text, for a connector that cannot render them natively for this message (a WhatsApp
    /// title over 20 characters or a body over the interactive limit): appended to <see cref="Text"/>.</summary>
    public string? ActionsText { get; init; }

    /// <summary>
    /// Set by the dispatcher when the account has a rate limit: a connector whose provider counts one message as
    /// several (SMPP's concatenated parts, each a submit_sm the SMSC counts; Twilio's segments) awaits it for every
    /// part after the first, so each part has a slot of its own. Null when granted; else how long until asking again.
    /// </summary>
    public Func<CancellationToken, ValueTask<TimeSpan?>>? NextPartPermit { get; init; }
}

/// <summary>
/// Speaks one provider's wire protocol. Connectors are stateless singletons: everything account-specific comes
/// from <see cref="ProviderAccount.Settings"/>. They never throw for provider answers; every outcome, including
/// timeouts and connection failures, is mapped to a <see cref="SendOutcome"/>. Only cancellation of
/// <c>ct</c> propagates.
/// </summary>
public interface IChannelConnector
{
    /// <summary>The <see cref="ProviderAccount.Kind"/> this connector serves.</summary>
    string Kind { get; }

    Channel Channel { get; }

    Task<SendOutcome> SendAsync(OutboundMessage message, ProviderAccount account, CancellationToken ct);
}

/// <summary>A receipt parsed from a provider callback, not yet matched to an attempt.</summary>
public sealed record ProviderReceipt(string ProviderMessageId, ReceiptState State, DateTimeOffset At, string? ErrorCode = null, string? Error = null);
