using System.Globalization;
using Herald.Core.Delivery;

namespace Herald.Channels.Sms;

/// <summary>
/// Maps Twilio REST API errors (<c>{"code":21211,"message":…,"more_info":…,"status":400}</c>) to outcomes, by Twilio
/// error code first and HTTP status only for codes not listed. Source: Twilio's "Error and Warning Dictionary".
/// Twilio says its error texts and causes change; codes are the stable part.
/// </summary>
public static class TwilioErrors
{
    /// <summary>Outcome for a Twilio error body, or for an HTTP error without one (<paramref name="code"/> null).</summary>
    /// <remarks>The error text is Herald's (<see cref="ProviderErrors"/>): Twilio's message never reaches a tenant.</remarks>
    public static SendOutcome Map(int? code, int httpStatus, TimeSpan? retryAfterHeader)
    {
        var errorCode = code?.ToString(CultureInfo.InvariantCulture) ?? httpStatus.ToString(CultureInfo.InvariantCulture);
        var (cls, pause) = code is { } c ? Classify(c, httpStatus) : ClassifyHttp(httpStatus);
        return ProviderErrors.Outcome(cls, pause, errorCode, TwilioSmsConnector.Api, retryAfterHeader);
    }

    private static (ProviderErrorClass, TimeSpan?) Classify(int code, int httpStatus) => code switch
    {
        // Throttling. 20429 (HTTP 429) is safe to retry after backing off; Twilio may send Retry-After.
        20429 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(1)),   // too many requests (API concurrency)
        14107 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(1)),   // SMS send rate limit exceeded
        21611 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(10)),  // the From number's queue is full
        30001 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(10)),  // queue overflow

        // Twilio side errors and outages.
        20500 => (ProviderErrorClass.Transient, null),   // internal server error
        20503 => (ProviderErrorClass.Transient, null),   // service unavailable
        30008 => (ProviderErrorClass.Transient, null),   // unknown error (carrier)
        30003 => (ProviderErrorClass.Transient, null),   // unreachable destination handset (switched off, no signal)

        // The account or its sender, not the message: see ProviderErrorClass.AccountFault.
        20003 => (ProviderErrorClass.AccountFault, null),   // authenticate: wrong AccountSid/AuthToken
        20005 => (ProviderErrorClass.AccountFault, null),   // account not active
        20404 => (ProviderErrorClass.AccountFault, null),   // resource not found: the AccountSid in the path is wrong
        21212 => (ProviderErrorClass.AccountFault, null),   // invalid From number
        21603 => (ProviderErrorClass.AccountFault, null),   // From or MessagingServiceSid required
        21606 => (ProviderErrorClass.AccountFault, null),   // From is not an SMS-capable number of this account
        21659 => (ProviderErrorClass.AccountFault, null),   // From is not a Twilio number
        21660 => (ProviderErrorClass.AccountFault, null),   // From does not belong to this account
        21701 or 21703 or 21704 => (ProviderErrorClass.AccountFault, null), // Messaging Service missing / no sender in pool
        30002 => (ProviderErrorClass.AccountFault, null),   // account suspended

        // The recipient or the message: retrying the same request cannot help on SMS.
        21211 => (ProviderErrorClass.Permanent, null),   // invalid To phone number
        21265 => (ProviderErrorClass.Permanent, null),   // To is a short code
        21266 => (ProviderErrorClass.Permanent, null),   // To and From are the same
        21408 => (ProviderErrorClass.Permanent, null),   // SMS not enabled for the To number's region
        21602 => (ProviderErrorClass.Permanent, null),   // Body required
        21604 => (ProviderErrorClass.Permanent, null),   // To required
        21608 => (ProviderErrorClass.Permanent, null),   // trial account: To is not a verified number
        21610 => (ProviderErrorClass.Permanent, null),   // recipient replied STOP (unsubscribed)
        21612 => (ProviderErrorClass.Permanent, null),   // To is not currently reachable via SMS
        21614 => (ProviderErrorClass.Permanent, null),   // To is not a valid mobile number (e.g. landline)
        21617 => (ProviderErrorClass.Permanent, null),   // Body exceeds 1600 characters
        21635 => (ProviderErrorClass.Permanent, null),   // To is a landline
        30004 => (ProviderErrorClass.Permanent, null),   // message blocked (by the recipient or the carrier)
        30005 => (ProviderErrorClass.Permanent, null),   // unknown destination handset (no longer in service)
        30006 => (ProviderErrorClass.Permanent, null),   // landline or unreachable carrier
        30007 => (ProviderErrorClass.Permanent, null),   // message filtered as spam/fraud by carrier or Twilio

        _ => ClassifyHttp(httpStatus),
    };

    private static (ProviderErrorClass, TimeSpan?) ClassifyHttp(int httpStatus) => httpStatus switch
    {
        429 => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(1)),
        401 or 403 or 404 => (ProviderErrorClass.AccountFault, null),
        408 => (ProviderErrorClass.Transient, null),
        >= 500 => (ProviderErrorClass.Transient, null),
        >= 400 => (ProviderErrorClass.Permanent, null),
        _ => (ProviderErrorClass.Transient, null),
    };
}
