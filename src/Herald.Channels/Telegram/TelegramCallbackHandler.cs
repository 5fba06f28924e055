using Herald.Channels.Callbacks;
using Herald.Channels.WhatsApp;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Telegram;

/// <summary>
/// Telegram's webhook (setWebhook with <c>secret_token={webhookSecret}</c>): the
/// <c>X-Telegram-Bot-Api-Secret-Token</c> header must carry the account's webhook secret (compared in constant time)
/// before the body is read. The older path <c>/callbacks/telegram/{webhookSecret}</c> names the account by that secret
/// (an unknown one is 401, as before). Updates are acknowledged with 200, so Telegram does not redeliver them; a
/// customer's text message or inline keyboard press (issue #16) goes on as an inbound message of that account.
/// </summary>
public sealed partial class TelegramCallbackHandler(TelegramAccountMatcher matcher, ILogger<TelegramCallbackHandler> logger) : IChannelCallbackHandler
{
    /// <summary>An update is small; 1 MiB is far above one.</summary>
    public const int MaxCallbackBytes = 1024 * 1024;

    private static readonly CallbackRefusal NoMatch = CallbackRefusal.Unauthorized(
        "The webhook secret does not match a bot account's.", "unknown webhook secret");

    public string Kind => TelegramBotConnector.ConnectorKind;

    public int MaxBodyBytes => MaxCallbackBytes;

    public CallbackRefusal? Admit(CallbackRequest request)
    {
        string? expected;
        if (request.Account is null)
        {
            var secret = request.Http.RouteValues["secret"] as string;
            request.Account = secret is null ? null : matcher.FindByWebhookSecret(secret);
            if (request.Account is null)
            {
                return NoMatch;
            }

            expected = secret;
        }
        else
        {
            try
            {
                expected = TelegramSettings.Parse(request.Account.Settings).WebhookSecret;
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
            {
                expected = null;
            }

            if (expected is not { Length: > 0 })
            {
                return CallbackRefusal.Unauthorized("The webhook secret does not match a bot account's.", "no webhook secret configured");
            }
        }

        return TelegramWebhook.VerifySecret(request.Http.Headers[TelegramWebhook.SecretHeader].FirstOrDefault(), expected!)
            ? null
            : CallbackRefusal.Unauthorized("The webhook secret does not match a bot account's.", "bad secret token header");
    }

    public CallbackResult Read(CallbackRequest request, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        if (!HttpMethods.IsPost(request.Http.Method))
        {
            return CallbackResult.Refused(new(StatusCodes.Status405MethodNotAllowed, "method-not-allowed", "Telegram posts its updates.", "not a POST"));
        }

        TelegramUpdate update;
        try
        {
            update = TelegramWebhook.ParseUpdate(body, now);
            LogUpdateReceived(logger, request.Account!.Id, update.UpdateId, update.Kind ?? "none");
        }
        catch (InvalidWebhookPayloadException e)
        {
            return CallbackResult.Refused(CallbackRefusal.Malformed("Malformed update.", e.Message, "malformed update", [("/update_id", e.Message)]));
        }

        // A customer's text or key press belongs to the bot account whose secret the request carried.
        return update.Message is { } message
            ? CallbackResult.Taken(CallbackReply.Ok, new InboundBatch(request.Account!, []) { Messages = [message] })
            : CallbackResult.Taken(CallbackReply.Ok);
    }

    [LoggerMessage(EventId = 1303, Level = LogLevel.Debug, Message = "Telegram update {UpdateId} ({Kind}) for bot account {AccountId} acknowledged")]
    private static partial void LogUpdateReceived(ILogger logger, Guid accountId, long updateId, string kind);
}
