using System.Globalization;
using Herald.Core.Delivery;

namespace Herald.Channels.Push;

/// <summary>
/// Maps FCM HTTP v1 errors to outcomes. FCM answers a <c>google.rpc.Status</c>
/// (<c>{"error":{"code","message","status","details":[...]}}</c>); the <c>FcmError</c> detail's <c>errorCode</c> is the
/// documented signal (reference: FCM v1 <c>ErrorCode</c>), the HTTP status the fallback.
/// </summary>
public static class FcmErrors
{
    /// <summary>The <c>@type</c> of the detail that carries FCM's own error code.</summary>
    public const string FcmErrorType = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

    /// <summary>FCM asks senders to wait at least a minute after QUOTA_EXCEEDED when it sends no Retry-After.</summary>
    public static readonly TimeSpan QuotaPause = TimeSpan.FromSeconds(60);

    /// <summary>Outcome of an FCM error answer.</summary>
    /// <param name="fcmErrorCode">The FcmError detail's errorCode, when present.</param>
    /// <param name="rpcStatus">The google.rpc.Status <c>status</c> (e.g. NOT_FOUND), when present.</param>
    /// <remarks>The error text is Herald's (<see cref="ProviderErrors"/>): FCM's message never reaches a tenant, and the
    /// codes are cut to letters, digits and <c>._-</c>.</remarks>
    public static SendOutcome Map(string? fcmErrorCode, string? rpcStatus, int httpStatus, TimeSpan? retryAfterHeader)
    {
        var (cls, pause) = fcmErrorCode switch
        {
            // The token is gone (app uninstalled, token expired) or not FCM's: this recipient cannot get push.
            "UNREGISTERED" => (ProviderErrorClass.Permanent, (TimeSpan?)null),
            // Bad token format, payload too big, invalid data key: retrying the same message cannot help.
            "INVALID_ARGUMENT" => (ProviderErrorClass.Permanent, null),
            // The token belongs to another Firebase project: not deliverable through this sender.
            "SENDER_ID_MISMATCH" => (ProviderErrorClass.Permanent, null),
            "QUOTA_EXCEEDED" => (ProviderErrorClass.Throttled, QuotaPause),
            "UNAVAILABLE" => (ProviderErrorClass.Transient, null),
            "INTERNAL" => (ProviderErrorClass.Transient, null),
            // APNs certificate or web-push key of the project is invalid: the account is broken, not the message.
            "THIRD_PARTY_AUTH_ERROR" => (ProviderErrorClass.AccountFault, null),
            _ => ClassifyHttp(httpStatus),
        };

        var code = fcmErrorCode is { Length: > 0 } and not "UNSPECIFIED_ERROR"
            ? fcmErrorCode
            : httpStatus is 401 or 403 ? "auth"
            : rpcStatus is { Length: > 0 } ? rpcStatus
            : httpStatus.ToString(CultureInfo.InvariantCulture);
        return ProviderErrors.Outcome(cls, pause, code, FcmConnector.Api, retryAfterHeader);
    }

    private static (ProviderErrorClass, TimeSpan?) ClassifyHttp(int httpStatus) => httpStatus switch
    {
        // Credentials rejected (after one token refresh) or the service account lacks the FCM permission.
        401 or 403 => (ProviderErrorClass.AccountFault, null),
        404 => (ProviderErrorClass.Permanent, null),
        408 => (ProviderErrorClass.Transient, null),
        429 => (ProviderErrorClass.Throttled, QuotaPause),
        >= 500 => (ProviderErrorClass.Transient, null),
        >= 400 => (ProviderErrorClass.Permanent, null),
        _ => (ProviderErrorClass.Transient, null),
    };
}
