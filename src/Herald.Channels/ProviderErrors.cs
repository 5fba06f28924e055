using Herald.Core.Delivery;

namespace Herald.Channels;

/// <summary>How a connector classifies one provider error code.</summary>
internal enum ProviderErrorClass
{
    /// <summary>This message to this recipient will not succeed on this channel: move on to the next channel.</summary>
    Permanent,
    /// <summary>Provider load or outage: retry later, the circuit breaker counts it.</summary>
    Transient,
    /// <summary>Throttling: retry after the given pause.</summary>
    Throttled,
    /// <summary>
    /// The provider account itself is broken (credentials expired or revoked, permissions missing, payment issue,
    /// suspended, sender not owned). No message can go through this account, but the same message can go through
    /// another account of the channel, or later through this one once an operator fixes it. Treated as transient so
    /// the circuit breaker opens and traffic moves to the channel's other providers, instead of failing every
    /// customer's step permanently because of our own configuration.
    /// </summary>
    AccountFault,
}

internal static class ProviderErrors
{
    private static readonly TimeSpan AccountFaultPause = TimeSpan.FromSeconds(30);

    /// <summary>The outcome for a classified error; a Retry-After header wins over the class's own pause.</summary>
    public static SendOutcome Outcome(ProviderErrorClass cls, TimeSpan? pause, string errorCode, string message, TimeSpan? retryAfterHeader) => cls switch
    {
        ProviderErrorClass.Permanent => SendOutcome.Permanent(errorCode, message),
        ProviderErrorClass.AccountFault => SendOutcome.Transient(errorCode, message, retryAfterHeader ?? pause ?? AccountFaultPause),
        _ => SendOutcome.Transient(errorCode, message, retryAfterHeader ?? pause),
    };
}
