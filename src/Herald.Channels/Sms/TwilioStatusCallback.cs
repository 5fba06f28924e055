using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Herald.Channels.Callbacks;
using Herald.Channels.WhatsApp;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Microsoft.AspNetCore.WebUtilities;

namespace Herald.Channels.Sms;

/// <summary>
/// Pure helpers for Twilio's message status callbacks: a form-encoded POST to the message's <c>StatusCallback</c>
/// URL (<c>MessageSid</c>, <c>MessageStatus</c>, <c>ErrorCode</c>, <c>AccountSid</c>, <c>From</c>, <c>To</c>, …)
/// signed with <c>X-Twilio-Signature</c>.
/// </summary>
public static class TwilioStatusCallback
{
    public const string SignatureHeader = "X-Twilio-Signature";

    /// <summary>
    /// Computes Twilio's signature: Base64 of HMAC-SHA1, keyed with the auth token, over the full URL Twilio called
    /// (scheme, host, port if any, path, query) followed by every POST parameter sorted by name (ordinal), each as
    /// name then value with no separators. Repeated names are ordered by value.
    /// </summary>
    public static string Sign(string fullUrl, IEnumerable<KeyValuePair<string, string>> formParams, string authToken)
    {
        var data = new StringBuilder(fullUrl);
        foreach (var (key, value) in formParams.OrderBy(static p => p.Key, StringComparer.Ordinal).ThenBy(static p => p.Value, StringComparer.Ordinal))
        {
            data.Append(key).Append(value);
        }

        return Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(authToken), Encoding.UTF8.GetBytes(data.ToString())));
    }

    /// <summary>
    /// Checks <c>X-Twilio-Signature</c> in constant time. Like Twilio's own helper libraries, an https/http URL is also
    /// tried with its default port added or removed (Twilio may or may not have included it), since a proxy in front
    /// of Herald can change how the port appears. An empty auth token or a missing header never matches.
    /// </summary>
    public static bool VerifySignature(string fullUrl, IEnumerable<KeyValuePair<string, string>> formParams, string? header, string authToken)
    {
        if (string.IsNullOrEmpty(header) || string.IsNullOrEmpty(authToken) || string.IsNullOrEmpty(fullUrl))
        {
            return false;
        }

        var parameters = formParams as IReadOnlyCollection<KeyValuePair<string, string>> ?? formParams.ToList();
        var given = Encoding.ASCII.GetBytes(header.Trim());
        if (Matches(fullUrl, parameters, given, authToken))
        {
            return true;
        }

        return AlternatePortForm(fullUrl) is { } alternate && Matches(alternate, parameters, given, authToken);
    }

    /// <summary>Parameters of an <c>application/x-www-form-urlencoded</c> body, repeated names kept.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> ParseForm(string body)
    {
        var result = new List<KeyValuePair<string, string>>();
        foreach (var (key, values) in QueryHelpers.ParseQuery(body))
        {
            foreach (var value in values)
            {
                result.Add(new(key, value ?? string.Empty));
            }
        }

        return result;
    }

    /// <summary>
    /// A customer's text from Twilio's incoming message webhook ("Twilio's request to your incoming message Webhook
    /// URL": form-encoded <c>MessageSid</c>, <c>From</c>, <c>To</c>, <c>Body</c>, <c>NumMedia</c>, and <c>SmsStatus</c>
    /// <c>received</c>), or null when the form is a status callback (it carries <c>MessageStatus</c>, or no Body).
    /// The webhook carries no time of its own: <paramref name="receivedAt"/> stands in.
    /// </summary>
    /// <exception cref="InvalidWebhookPayloadException">An incoming message without <c>MessageSid</c> or <c>From</c>.</exception>
    public static InboundMessage? ParseIncoming(IEnumerable<KeyValuePair<string, string>> formParams, DateTimeOffset receivedAt)
    {
        string? sid = null, from = null, body = null, messageStatus = null, smsStatus = null;
        foreach (var (key, value) in formParams)
        {
            switch (key)
            {
                case "MessageSid": sid = value; break;
                case "SmsMessageSid": sid ??= value; break;
                case "From": from = value; break;
                case "Body": body = value; break;
                case "MessageStatus": messageStatus = value; break;
                case "SmsStatus": smsStatus = value; break;
            }
        }

        if (body is null || messageStatus is not null || smsStatus is not (null or "received"))
        {
            return null;
        }

        if (string.IsNullOrEmpty(sid) || string.IsNullOrEmpty(from))
        {
            throw new InvalidWebhookPayloadException("incoming message has no MessageSid or From");
        }

        return new InboundMessage(Channel.Sms, from, sid, receivedAt) { Text = body };
    }

    /// <summary>
    /// The receipt a status callback reports: <c>delivered</c> → Delivered, <c>undelivered</c>/<c>failed</c> → Failed
    /// with <c>ErrorCode</c>, <c>sent</c> → Sent (handed to the carrier), <c>read</c> → Read; null for statuses that
    /// are not receipts (queued, sending, accepted, scheduled, canceled, …). Status callbacks carry no event time
    /// except <c>RawDlrDoneDate</c> (carrier's YYMMDDhhmm, UTC) on final states, so <paramref name="receivedAt"/>
    /// stands in when that is absent.
    /// </summary>
    /// <exception cref="InvalidWebhookPayloadException"><c>MessageSid</c> or <c>MessageStatus</c> is missing.</exception>
    public static ProviderReceipt? Parse(IEnumerable<KeyValuePair<string, string>> formParams, DateTimeOffset receivedAt)
    {
        string? sid = null, status = null, errorCode = null, doneDate = null;
        foreach (var (key, value) in formParams)
        {
            switch (key)
            {
                case "MessageSid": sid = value; break;
                case "MessageStatus": status = value; break;
                case "SmsSid": sid ??= value; break;
                case "SmsStatus": status ??= value; break;
                case "ErrorCode": errorCode = value; break;
                case "RawDlrDoneDate": doneDate = value; break;
            }
        }

        if (string.IsNullOrEmpty(sid) || string.IsNullOrEmpty(status))
        {
            throw new InvalidWebhookPayloadException("status callback has no MessageSid or MessageStatus");
        }

        ReceiptState? state = status switch
        {
            "sent" => ReceiptState.Sent,
            "delivered" => ReceiptState.Delivered,
            "read" => ReceiptState.Read,
            "undelivered" or "failed" => ReceiptState.Failed,
            _ => null,
        };
        if (state is not { } s)
        {
            return null;
        }

        var at = DateTimeOffset.TryParseExact(doneDate, "yyMMddHHmm", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var done)
            ? done.ToUniversalTime()
            : receivedAt;
        if (s != ReceiptState.Failed)
        {
            return new ProviderReceipt(sid, s, at);
        }

        // The code and status, not Twilio's ErrorMessage: an attempt's error is Herald's words (see ProviderErrors).
        errorCode = string.IsNullOrEmpty(errorCode) ? null : ProviderErrors.SafeCode(errorCode);
        var error = errorCode is null ? $"Twilio reported the message {ProviderErrors.SafeCode(status)}" : $"Twilio reported the message {ProviderErrors.SafeCode(status)} (error {errorCode})";
        return new ProviderReceipt(sid, s, at, errorCode, error);
    }

    private static bool Matches(string url, IReadOnlyCollection<KeyValuePair<string, string>> parameters, byte[] given, string authToken) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(url, parameters, authToken)), given);

    private static string? AlternatePortForm(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            return null;
        }

        var authorityStart = url.IndexOf("://", StringComparison.Ordinal) + 3;
        var pathStart = url.IndexOfAny(['/', '?', '#'], authorityStart);
        var authority = pathStart < 0 ? url[authorityStart..] : url[authorityStart..pathStart];
        var rest = pathStart < 0 ? string.Empty : url[pathStart..];
        // Twilio calls URLs with user:password@ for HTTP auth; the port is after the host, not in the user info.
        var hostStart = authority.LastIndexOf('@') + 1;
        var hostEnd = authority.LastIndexOf(':');
        var hasPort = hostEnd >= hostStart && hostEnd > authority.LastIndexOf(']');
        if (hasPort)
        {
            // Only a default port can be dropped without changing where the request went.
            return uri.IsDefaultPort ? string.Concat(url.AsSpan(0, authorityStart), authority.AsSpan(0, hostEnd), rest) : null;
        }

        return $"{url[..authorityStart]}{authority}:{uri.Port.ToString(CultureInfo.InvariantCulture)}{rest}";
    }
}
