using System.Globalization;
using Herald.Core.Delivery;

namespace Herald.Channels.WhatsApp;

/// <summary>
/// Maps Graph API errors of the Cloud API to outcomes. Meta asks integrators to branch on <c>error.code</c> (and
/// <c>error_data.details</c>), not on titles or HTTP status; the HTTP status is only the fallback for codes not
/// listed here. Source: Meta's "Cloud API error codes" reference.
/// </summary>
public static class WhatsAppErrors
{
    private enum Class
    {
        /// <summary>This message to this recipient will not succeed on WhatsApp: move on to the next channel.</summary>
        Permanent,
        /// <summary>Provider load or outage: retry later, the circuit breaker counts it.</summary>
        Transient,
        /// <summary>Throttling: retry after the given pause.</summary>
        Throttled,
        /// <summary>
        /// The provider account itself is broken (token expired or revoked, permissions missing, payment issue,
        /// maintenance). No message can go through this account, but the same message can go through another
        /// WhatsApp account or later through this one once an operator fixes it. Treated as transient so the
        /// circuit breaker opens and traffic moves to the channel's other providers, instead of failing every
        /// customer's WhatsApp step permanently because of our own configuration.
        /// </summary>
        AccountFault,
    }

    private static readonly TimeSpan AccountFaultPause = TimeSpan.FromSeconds(30);

    /// <summary>Outcome for a Graph error object, or for an HTTP error without one (<paramref name="code"/> null).</summary>
    public static SendOutcome Map(int? code, string message, int httpStatus, TimeSpan? retryAfterHeader)
    {
        var errorCode = code?.ToString(CultureInfo.InvariantCulture) ?? httpStatus.ToString(CultureInfo.InvariantCulture);
        var (cls, pause) = code is { } c ? Classify(c, httpStatus) : ClassifyHttp(httpStatus);
        return cls switch
        {
            Class.Permanent => SendOutcome.Permanent(errorCode, message),
            Class.Throttled => SendOutcome.Transient(errorCode, message, retryAfterHeader ?? pause),
            Class.AccountFault => SendOutcome.Transient(errorCode, message, retryAfterHeader ?? pause ?? AccountFaultPause),
            _ => SendOutcome.Transient(errorCode, message, retryAfterHeader ?? pause),
        };
    }

    private static (Class, TimeSpan?) Classify(int code, int httpStatus) => code switch
    {
        // Throttling. Meta sends no retry_after; the pauses follow the limits' documented windows.
        130429 => (Class.Throttled, TimeSpan.FromSeconds(1)),    // Cloud API throughput (messages per second) reached
        131056 => (Class.Throttled, TimeSpan.FromSeconds(6)),    // pair rate limit: ~1 message per 6 s to one user
        131048 => (Class.Throttled, TimeSpan.FromSeconds(60)),   // spam rate limit (quality-based)
        80007 => (Class.Throttled, TimeSpan.FromSeconds(60)),    // WhatsApp Business Account rate limit
        4 => (Class.Throttled, TimeSpan.FromSeconds(60)),        // application request limit (rolling window)
        613 => (Class.Throttled, TimeSpan.FromSeconds(60)),      // calls-per-endpoint limit

        // Provider side errors and outages.
        1 => (Class.Transient, null),        // API Unknown: invalid request or possible server error
        2 => (Class.Transient, null),        // API Service: downtime or overload
        131000 => (Class.Transient, null),   // Something went wrong
        131016 => (Class.Transient, null),   // Service unavailable
        133004 => (Class.Transient, null),   // Server temporarily unavailable

        // The account, not the message: see Class.AccountFault.
        0 => (Class.AccountFault, null),             // AuthException
        3 => (Class.AccountFault, null),             // capability or permissions issue
        10 => (Class.AccountFault, null),            // permission denied
        190 => (Class.AccountFault, null),           // access token expired or invalid
        >= 200 and <= 299 => (Class.AccountFault, null), // API permission
        131042 => (Class.AccountFault, null),        // business eligibility / payment issue
        131057 => (Class.AccountFault, null),        // account in maintenance mode
        133000 => (Class.AccountFault, null),        // incomplete deregistration of the business number

        // The message or the recipient: retrying cannot help on WhatsApp.
        100 => (Class.Permanent, null),      // invalid parameter (our request is wrong for this message)
        131008 => (Class.Permanent, null),   // required parameter missing
        131009 => (Class.Permanent, null),   // parameter value invalid
        131021 => (Class.Permanent, null),   // recipient cannot be the sender
        131026 => (Class.Permanent, null),   // message undeliverable (not a WhatsApp user, old app, ToS not accepted)
        131030 => (Class.Permanent, null),   // recipient not in the test number's allowed list
        131031 => (Class.Permanent, null),   // business account locked
        131047 => (Class.Permanent, null),   // re-engagement message: free-form text outside the 24 h window
        131049 => (Class.Permanent, null),   // Meta chose not to deliver (ecosystem protection)
        131050 => (Class.Permanent, null),   // user stopped marketing messages
        131051 => (Class.Permanent, null),   // unsupported message type
        131052 or 131053 => (Class.Permanent, null), // media download / upload error
        >= 132000 and <= 132069 => (Class.Permanent, null), // template errors (missing, paused, params mismatch)
        // Meta documents 133010 as the *business* number not being registered, which is an account fault; it is kept
        // permanent as Herald's channel contract specifies (fall back to the next channel at once). Revisit once
        // real traffic shows whether it ever names the recipient.
        133010 => (Class.Permanent, null),
        135000 => (Class.Permanent, null),   // generic user error
        130472 => (Class.Permanent, null),   // user's number is part of an experiment
        368 => (Class.Permanent, null),      // temporarily blocked for policy violations

        _ => ClassifyHttp(httpStatus),
    };

    private static (Class, TimeSpan?) ClassifyHttp(int httpStatus) => httpStatus switch
    {
        429 => (Class.Throttled, TimeSpan.FromSeconds(1)),
        401 or 403 => (Class.AccountFault, null),
        408 => (Class.Transient, null),
        >= 500 => (Class.Transient, null),
        >= 400 => (Class.Permanent, null),
        _ => (Class.Transient, null),
    };
}
