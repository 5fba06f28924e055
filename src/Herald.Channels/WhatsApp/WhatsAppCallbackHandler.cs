using Herald.Channels.Callbacks;
using Herald.Channels.Providers;
using Herald.Core.Providers;
using Microsoft.AspNetCore.Http;

namespace Herald.Channels.WhatsApp;

/// <summary>
/// Meta's webhooks: the subscription handshake (GET, echo <c>hub.challenge</c> when <c>hub.verify_token</c> is an
/// account's) and status notifications (POST, signed with <c>X-Hub-Signature-256</c>, the app secret as key). The body
/// names phone number ids; each is bound to the account whose app secret made the signature, never to an account only
/// because it names the same number (issue #13: another tenant's registration of a number must not capture or break
/// its receipts). On the generic route the path's account must be that signer for every number.
/// </summary>
public sealed class WhatsAppCallbackHandler(WhatsAppAccountMatcher matcher, ProviderDirectory directory) : IChannelCallbackHandler
{
    /// <summary>Meta batches statuses: 1 MiB is far above a batch.</summary>
    public const int MaxCallbackBytes = 1024 * 1024;

    public string Kind => WhatsAppCloudConnector.ConnectorKind;

    public int MaxBodyBytes => MaxCallbackBytes;

    public CallbackRefusal? Admit(CallbackRequest request) => null;

    public CallbackResult Read(CallbackRequest request, ReadOnlySpan<byte> body, DateTimeOffset now) =>
        HttpMethods.IsGet(request.Http.Method) ? Handshake(request) : Statuses(request, body);

    private CallbackResult Handshake(CallbackRequest request)
    {
        var query = request.Http.Query;
        var mode = query["hub.mode"].FirstOrDefault();
        var token = query["hub.verify_token"].FirstOrDefault();
        var challenge = query["hub.challenge"].FirstOrDefault();
        // The alias has no account: any account's verify token answers, as Meta configures one URL per app.
        IEnumerable<ProviderAccount> accounts = request.Account is { } named ? [named] : directory.All;
        foreach (var account in accounts)
        {
            if (account.Kind == WhatsAppCloudConnector.ConnectorKind
                && WhatsAppSettings.Parse(account.Settings).VerifyToken is { Length: > 0 } verifyToken
                && WhatsAppWebhook.VerifyHandshake(mode, token, challenge, verifyToken) is { } echo)
            {
                return new CallbackResult([], CallbackReply.Text, echo);
            }
        }

        return CallbackResult.Refused(CallbackRefusal.Forbidden("Verification failed.", "bad verify token"));
    }

    private CallbackResult Statuses(CallbackRequest request, ReadOnlySpan<byte> body)
    {
        WhatsAppStatusBatch batch;
        try
        {
            batch = WhatsAppWebhook.Parse(body);
        }
        catch (InvalidWebhookPayloadException e)
        {
            return CallbackResult.Refused(CallbackRefusal.Malformed("Malformed webhook.", e.Message, "malformed"));
        }

        // The body names the phone number; the signature must be valid for that number's app secret.
        var signature = request.Http.Headers[WhatsAppWebhook.SignatureHeader].FirstOrDefault();
        var accounts = new Dictionary<string, ProviderAccount>(StringComparer.Ordinal);
        foreach (var phoneNumberId in batch.PhoneNumberIds)
        {
            var candidates = matcher.FindByPhoneNumberId(phoneNumberId);
            ProviderAccount? signer = null;
            foreach (var account in candidates)
            {
                if ((!request.NamedAccount || account.Id == request.Account!.Id)
                    && WhatsAppSettings.Parse(account.Settings).AppSecret is { } appSecret
                    && WhatsAppWebhook.VerifySignature(body, signature, appSecret))
                {
                    signer = account;
                    break;
                }
            }

            if (signer is null)
            {
                return CallbackResult.Refused(CallbackRefusal.Unauthorized(
                    "Signature check failed.", candidates.Count == 0 ? "unknown phone number id" : "bad signature"));
            }

            accounts[phoneNumberId] = signer;
        }

        // Receipts and customers' messages, per number, vouched for by that number's signer; entries without a number
        // name no account and are not taken.
        var numbers = batch.Receipts.Select(static r => r.PhoneNumberId).Concat(batch.Messages.Select(static m => m.PhoneNumberId))
            .OfType<string>().Distinct(StringComparer.Ordinal);
        return CallbackResult.Taken(CallbackReply.Ok, [.. numbers.Select(number => new InboundBatch(
            accounts[number], [.. batch.Receipts.Where(r => r.PhoneNumberId == number).Select(static r => r.Receipt)])
        {
            Messages = [.. batch.Messages.Where(m => m.PhoneNumberId == number).Select(static m => m.Message)],
        })]);
    }
}
