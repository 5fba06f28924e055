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
    /// <summary>Outcome for a Graph error object, or for an HTTP error without one (<paramref name="code"/> null).</summary>
    /// <remarks>The error text is Herald's (<see cref="ProviderErrors"/>): Graph's message never reaches a tenant.</remarks>
    public static SendOutcome Map(int? code, int httpStatus, TimeSpan? retryAfterHeader)
    {
        var errorCode = code?.ToString(CultureInfo.InvariantCulture) ?? httpStatus.ToString(CultureInfo.InvariantCulture);
        var (cls, pause) = code is { } c ? Classify(c, httpStatus) : ClassifyHttp(httpStatus);
        return ProviderErrors.Outcome(cls, pause, errorCode, WhatsAppCloudConnector.Api, retryAfterHeader);
    }

    private static (ProviderErrorClass, TimeSpan?) Classify(int code, int httpStatus) => code switch
    {
        // Throttling. Meta sends no retry_after; the pauses follow the limits' documented windows.
        130429 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(1)),    // Cloud API throughput (messages per second) reached
        131056 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(6)),    // pair rate limit: ~1 message per 6 s to one user
        131048 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(60)),   // spam rate limit (quality-based)
        80007 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(60)),    // WhatsApp Business Account rate limit
        4 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(60)),        // application request limit (rolling window)
        613 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(60)),      // calls-per-endpoint limit

        // Provider side errors and outages.
        1 => (ProviderErrorClass.Transient, null),        // API Unknown: invalid request or possible server error
        2 => (ProviderErrorClass.Transient, null),        // API Service: downtime or overload
        131000 => (ProviderErrorClass.Transient, null),   // Something went wrong
        131016 => (ProviderErrorClass.Transient, null),   // Service unavailable
        133004 => (ProviderErrorClass.Transient, null),   // Server temporarily unavailable

        // The account, not the message: see ProviderErrorClass.AccountFault.
        0 => (ProviderErrorClass.AccountFault, null),             // AuthException
        3 => (ProviderErrorClass.AccountFault, null),             // capability or permissions issue
        10 => (ProviderErrorClass.AccountFault, null),            // permission denied
        190 => (ProviderErrorClass.AccountFault, null),           // access token expired or invalid
        >= 200 and <= 299 => (ProviderErrorClass.AccountFault, null), // API permission
        131042 => (ProviderErrorClass.AccountFault, null),        // business eligibility / payment issue
        131057 => (ProviderErrorClass.AccountFault, null),        // account in maintenance mode
        133000 => (ProviderErrorClass.AccountFault, null),        // incomplete deregistration of the business number

        // The message or the recipient: retrying cannot help on WhatsApp.
        100 => (ProviderErrorClass.Permanent, null),      // invalid parameter (our request is wrong for this message)
        131008 => (ProviderErrorClass.Permanent, null),   // required parameter missing
        131009 => (ProviderErrorClass.Permanent, null),   // parameter value invalid
        131021 => (ProviderErrorClass.Permanent, null),   // recipient cannot be the sender
        131026 => (ProviderErrorClass.Permanent, null),   // message undeliverable (not a WhatsApp user, old app, ToS not accepted)
        131030 => (ProviderErrorClass.Permanent, null),   // recipient not in the test number's allowed list
        131031 => (ProviderErrorClass.Permanent, null),   // business account locked
        131047 => (ProviderErrorClass.Permanent, null),   // re-engagement message: free-form text outside the 24 h window
        131049 => (ProviderErrorClass.Permanent, null),   // Meta chose not to deliver (ecosystem protection)
        131050 => (ProviderErrorClass.Permanent, null),   // user stopped marketing messages
        131051 => (ProviderErrorClass.Permanent, null),   // unsupported message type
        131052 or 131053 => (ProviderErrorClass.Permanent, null), // media download / upload error
        >= 132000 and <= 132069 => (ProviderErrorClass.Permanent, null), // template errors (missing, paused, params mismatch)
        // Meta documents 133010 as the *business* number not being registered, which is an account fault; it is kept
        // permanent as Herald's channel contract specifies (fall back to the next channel at once). Revisit once
        // real traffic shows whether it ever names the recipient.
        133010 => (ProviderErrorClass.Permanent, null),
        135000 => (ProviderErrorClass.Permanent, null),   // generic user error
        130472 => (ProviderErrorClass.Permanent, null),   // user's number is part of an experiment
        368 => (ProviderErrorClass.Permanent, null),      // temporarily blocked for policy violations

        _ => ClassifyHttp(httpStatus),
    };

    private static (ProviderErrorClass, TimeSpan?) ClassifyHttp(int httpStatus) => httpStatus switch
    {
        429 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(1)),
        401 or 403 => (ProviderErrorClass.AccountFault, null),
        408 => (ProviderErrorClass.Transient, null),
        >= 500 => (ProviderErrorClass.Transient, null),
        >= 400 => (ProviderErrorClass.Permanent, null),
        _ => (ProviderErrorClass.Transient, null),
    };
}
