namespace Herald.Core.Delivery;

/// <summary>What a provider said to one send.</summary>
public enum SendOutcomeKind
{
    /// <summary>The provider took the message; a receipt may follow.</summary>
    Accepted,
    /// <summary>The provider's answer itself means the message reached the customer (e.g. Telegram Bot API).</summary>
    Delivered,
    /// <summary>Worth retrying on the same step (5xx, 429, timeouts, connection errors).</summary>
    TransientFailure,
    /// <summary>Retrying will not help on this channel (not a WhatsApp user, bot blocked, invalid address).</summary>
    PermanentFailure,
}

/// <summary>The result of one send through a connector.</summary>
public sealed record SendOutcome(
    SendOutcomeKind Kind,
    string? ProviderMessageId = null,
    string? ErrorCode = null,
    string? Error = null,
    TimeSpan? RetryAfter = null,
    decimal? Cost = null)
{
    public static SendOutcome Transient(string code, string error, TimeSpan? retryAfter = null) =>
        new(SendOutcomeKind.TransientFailure, ErrorCode: code, Error: error, RetryAfter: retryAfter);

    public static SendOutcome Permanent(string code, string error) =>
        new(SendOutcomeKind.PermanentFailure, ErrorCode: code, Error: error);

    /// <summary>Error code of a send Herald's own provider rate limiter held back: nothing reached the provider.</summary>
    public const string RateLimitedCode = "rate_limited";

    /// <summary>Herald's provider rate limit had no slot soon enough; ask again after <paramref name="retryAfter"/>.
    /// Transient, but it spends no retry of the step (see <see cref="DeliveryStateMachine.OnSendOutcome"/>).</summary>
    public static SendOutcome RateLimited(TimeSpan retryAfter) =>
        Transient(RateLimitedCode, "held back by the provider account's rate limit", retryAfter);

    /// <summary>Error code of a transient refusal after the provider took part of the message (the first parts of a
    /// long SMS): like a timeout, it must not be sent through another account, where the customer would get the text
    /// twice; a retry through the same account repeats the parts the handset already holds.</summary>
    public const string PartialSendCode = "partial_send";

    /// <summary>Whether this is <see cref="RateLimited"/>.</summary>
    public bool IsRateLimited => Kind == SendOutcomeKind.TransientFailure && ErrorCode == RateLimitedCode;
}

/// <summary>A delivery receipt as a provider callback reported it, normalised across providers.</summary>
public enum ReceiptState
{
    Sent,
    Delivered,
    Read,
    Failed,
}
