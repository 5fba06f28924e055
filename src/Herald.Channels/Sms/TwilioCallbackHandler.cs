using System.Text;
using Herald.Channels.Callbacks;
using Herald.Channels.WhatsApp;
using Microsoft.AspNetCore.Http;

namespace Herald.Channels.Sms;

/// <summary>
/// Twilio-style status callbacks (delivery receipts) and incoming messages (a customer's SMS, issue #16), both signed with
/// the account's auth token over the configured callback URL (not the URL the request arrived on, which proxies
/// rewrite): the number's incoming message webhook is configured on the same URL.
/// </summary>
public sealed class TwilioCallbackHandler : IChannelCallbackHandler
{
    /// <summary>A Twilio status callback is a short form (about 1 KB).</summary>
    public const int MaxCallbackBytes = 64 * 1024;

    public string Kind => TwilioSmsConnector.ConnectorKind;

    public int MaxBodyBytes => MaxCallbackBytes;

    public CallbackRefusal? Admit(CallbackRequest request) =>
        HttpMethods.IsPost(request.Http.Method)
            ? null
            : new(StatusCodes.Status405MethodNotAllowed, "method-not-allowed", "Status callbacks are posted.", "not a POST");

    public CallbackResult Read(CallbackRequest request, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        var account = request.Account!;
        var form = TwilioStatusCallback.ParseForm(Encoding.UTF8.GetString(body));
        var settings = TwilioSettings.Parse(account.Settings);
        if (settings.StatusCallbackFor(account.Id) is not { } url
            || !TwilioStatusCallback.VerifySignature(url, form, request.Http.Headers[TwilioStatusCallback.SignatureHeader].FirstOrDefault(), settings.AuthToken))
        {
            return CallbackResult.Refused(CallbackRefusal.Forbidden("Signature check failed.", "bad signature"));
        }

        ProviderReceipt? receipt;
        try
        {
            // The incoming message webhook may be configured on the same URL as status callbacks, signed the same way.
            if (TwilioStatusCallback.ParseIncoming(form, now) is { } incoming)
            {
                return CallbackResult.Taken(CallbackReply.NoContent, new InboundBatch(account, []) { Messages = [incoming] });
            }

            receipt = TwilioStatusCallback.Parse(form, now);
        }
        catch (InvalidWebhookPayloadException e)
        {
            return CallbackResult.Refused(CallbackRefusal.Malformed("Malformed status callback.", e.Message, "malformed"));
        }

        return CallbackResult.Taken(CallbackReply.NoContent, receipt is null ? [] : [new InboundBatch(account, [receipt])]);
    }
}
