using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Herald.Sandbox.Callbacks;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Throttling;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox.Sms;

/// <summary>
/// Sends Twilio message status callbacks: one status per form-encoded POST to the message's own
/// <c>StatusCallback</c> URL, signed with <c>X-Twilio-Signature</c> using the auth token of the account that sent it.
/// </summary>
public sealed class TwilioCallbackDispatcher(
    IOptions<SandboxOptions> options,
    SandboxSettings settings,
    SandboxStats stats,
    TimeProvider time,
    ILogger<TwilioCallbackDispatcher> logger)
    : CallbackDispatcher<SmsStatusCallback>(options.Value, settings, stats.SmsCallbacks, time, logger)
{
    /// <summary>Twilio's signature header.</summary>
    public const string SignatureHeader = "X-Twilio-Signature";

    /// <inheritdoc />
    protected override int BatchSize => 1;

    /// <summary>
    /// Twilio's request signature: Base64 HMAC-SHA1 keyed with the auth token over the URL followed by the POST
    /// parameters sorted by name, each name then value, no separators.
    /// </summary>
    public static string Sign(string url, IEnumerable<KeyValuePair<string, string>> parameters, string authToken)
    {
        var data = new StringBuilder(url);
        foreach (var (key, value) in parameters.OrderBy(static p => p.Key, StringComparer.Ordinal).ThenBy(static p => p.Value, StringComparer.Ordinal))
        {
            data.Append(key).Append(value);
        }

        return Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(authToken), Encoding.UTF8.GetBytes(data.ToString())));
    }

    /// <summary>The form parameters Twilio posts for a status.</summary>
    internal List<KeyValuePair<string, string>> Form(SmsStatusCallback item)
    {
        var form = new List<KeyValuePair<string, string>>(12)
        {
            new("ApiVersion", "2010-04-01"),
            new("AccountSid", item.AccountSid),
            new("MessageSid", item.MessageSid),
            new("SmsSid", item.MessageSid),
            new("MessageStatus", item.Status),
            new("SmsStatus", item.Status),
            new("From", item.From),
            new("To", item.To),
        };
        if (item.MessagingServiceSid is { } service)
        {
            form.Add(new("MessagingServiceSid", service));
        }

        if (item.ErrorCode is { } code)
        {
            form.Add(new("ErrorCode", code.ToString(CultureInfo.InvariantCulture)));
        }

        if (item.Status is "delivered" or "undelivered")
        {
            form.Add(new("RawDlrDoneDate", Time.GetUtcNow().ToString("yyMMddHHmm", CultureInfo.InvariantCulture)));
        }

        return form;
    }

    /// <inheritdoc />
    protected override bool CanShareBatch(SmsStatusCallback first, SmsStatusCallback next) => false;

    /// <inheritdoc />
    protected override HttpRequestMessage? BuildRequest(IReadOnlyList<SmsStatusCallback> batch, out string? failure)
    {
        failure = null;
        var item = batch[0];
        var form = Form(item);
        var request = new HttpRequestMessage(HttpMethod.Post, item.Url) { Content = new FormUrlEncodedContent(form) };
        request.Headers.TryAddWithoutValidation(SignatureHeader, Sign(item.Url, form, item.AuthToken));
        return request;
    }

    /// <inheritdoc />
    protected override SmsStatusCallback? FollowUp(SmsStatusCallback item, long nowMs, int receiptDelayMs) =>
        item.Next is { } next
            ? new SmsStatusCallback
            {
                Url = item.Url,
                AuthToken = item.AuthToken,
                AccountSid = item.AccountSid,
                MessageSid = item.MessageSid,
                From = item.From,
                To = item.To,
                MessagingServiceSid = item.MessagingServiceSid,
                Status = next,
            }
            : null;
}
