using Herald.Channels;
using Herald.Channels.Email;
using Herald.Channels.Providers;
using Herald.Channels.Sms;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Herald.Ingest.Authentication;
using Herald.Server.Delivery;
using Herald.Server.Notifications;

namespace Herald.Server.Callbacks;

/// <summary>Provider callbacks (SPEC §3): receipts come in here. They are unauthenticated until their signature or
/// token is checked, and a signature covers the body, so each body is read with a cap enforced while it streams in
/// (<see cref="RequestBody.ReadAsync"/>): a 413 problem as soon as the cap is crossed, never a buffer of whatever a
/// stranger sends.</summary>
public static class CallbacksApi
{
    /// <summary>Meta batches statuses (and a bounce report carries headers only, RET=HDRS): 1 MiB is far above either.</summary>
    public const int MaxCallbackBytes = 1024 * 1024;

    /// <summary>A Twilio status callback is a short form (about 1 KB).</summary>
    public const int MaxTwilioCallbackBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapCallbacksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/callbacks").WithTags("Callbacks");
        group.MapGet("/whatsapp", VerifyWhatsApp);
        group.MapPost("/whatsapp", WhatsAppStatusesAsync);
        group.MapPost("/sms/{providerId:guid}", TwilioStatusAsync);
        group.MapPost("/email/{providerId:guid}", EmailBounceAsync);
        group.MapPost("/telegram/{secret}", TelegramUpdateAsync);
        return app;
    }

    /// <summary>Meta's subscription handshake: echo hub.challenge when hub.verify_token is one of ours.</summary>
    private static IResult VerifyWhatsApp(HttpRequest request, ProviderDirectory directory)
    {
        var mode = request.Query["hub.mode"].FirstOrDefault();
        var token = request.Query["hub.verify_token"].FirstOrDefault();
        var challenge = request.Query["hub.challenge"].FirstOrDefault();
        foreach (var account in directory.All)
        {
            if (account.Kind == WhatsAppCloudConnector.ConnectorKind
                && WhatsAppSettings.Parse(account.Settings).VerifyToken is { Length: > 0 } verifyToken
                && WhatsAppWebhook.VerifyHandshake(mode, token, challenge, verifyToken) is { } echo)
            {
                return TypedResults.Text(echo);
            }
        }

        return Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "Verification failed.");
    }

    /// <summary>Twilio-style status callbacks (delivery receipts), signed with the account's auth token over the
    /// configured callback URL (not the URL the request arrived on, which proxies rewrite).</summary>
    private static async Task<IResult> TwilioStatusAsync(
        Guid providerId, HttpRequest request, ProviderDirectory directory, ReceiptProcessor receipts, TimeProvider time,
        ILoggerFactory loggers, CancellationToken ct)
    {
        var logger = loggers.CreateLogger("Herald.Callbacks.Sms");
        var account = directory.Find(providerId);
        if (account is not { Kind: TwilioSmsConnector.ConnectorKind })
        {
            return Problems.NotFound("Provider");
        }

        var (raw, tooLarge) = await RequestBody.ReadAsync(request, MaxTwilioCallbackBytes);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        var form = TwilioStatusCallback.ParseForm(System.Text.Encoding.UTF8.GetString(raw.Span));
        var settings = TwilioSettings.Parse(account.Settings);
        if (settings.StatusCallbackFor(account.Id) is not { } url
            || !TwilioStatusCallback.VerifySignature(url, form, request.Headers[TwilioStatusCallback.SignatureHeader].FirstOrDefault(), settings.AuthToken))
        {
            logger.CallbackRejected("bad signature");
            return Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "Signature check failed.");
        }

        ProviderReceipt? receipt;
        try
        {
            receipt = TwilioStatusCallback.Parse(form, time.GetUtcNow());
        }
        catch (InvalidWebhookPayloadException e)
        {
            return Problems.Result(StatusCodes.Status400BadRequest, "validation", "Malformed status callback.", e.Message);
        }

        if (receipt is not null)
        {
            await receipts.ProcessAsync([receipt], account.Id, ct);
        }

        return TypedResults.NoContent();
    }

    /// <summary>
    /// A bounce report that came back to an SMTP account's envelope sender, handed in by the bank's mail system (for
    /// example a Postfix pipe transport into curl): the raw message, authenticated by the account's bounce token as a
    /// bearer token. A failed recipient fails the attempt (error code <c>bounced</c>); a report that is not a delivery
    /// status notification of a message Herald sent is accepted and ignored, so the mail system does not retry it.
    /// </summary>
    private static async Task<IResult> EmailBounceAsync(
        Guid providerId, HttpRequest request, ProviderDirectory directory, ReceiptProcessor receipts, TimeProvider time,
        ILoggerFactory loggers, CancellationToken ct)
    {
        var logger = loggers.CreateLogger("Herald.Callbacks.Email");
        var account = directory.Find(providerId);
        if (account is not { Kind: SmtpEmailConnector.ConnectorKind })
        {
            return Problems.NotFound("Provider");
        }

        string? token;
        try
        {
            token = SmtpSettings.Parse(account.Settings).BounceToken;
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
        {
            token = null;
        }

        if (token is null || !BearerMatches(request, token))
        {
            logger.CallbackRejected(token is null ? "no bounce token configured" : "bad bounce token");
            return Problems.Result(StatusCodes.Status401Unauthorized, "unauthorized", "The bounce token does not match the account's.");
        }

        var (body, error) = await RequestBody.ReadAsync(request, MaxCallbackBytes);
        if (error is not null)
        {
            return error;
        }

        using var stream = new MemoryStream(body.ToArray(), writable: false);
        var found = BounceReports.Parse(stream, time.GetUtcNow(), ct);
        if (found.Count > 0)
        {
            await receipts.ProcessAsync(found, account.Id, ct);
        }

        return TypedResults.NoContent();
    }

    /// <summary>
    /// Telegram's webhook (setWebhook with <c>url=.../callbacks/telegram/{webhookSecret}</c> and
    /// <c>secret_token={webhookSecret}</c>): the path names one bot account by its webhook secret, and the
    /// <c>X-Telegram-Bot-Api-Secret-Token</c> header must carry the same secret (both compared in constant time) before
    /// the body is read. Updates are acknowledged with 200, so Telegram does not redeliver them, and nothing of their
    /// content is kept yet: replies and customer messages (SPEC §7) will build on this route.
    /// </summary>
    private static async Task<IResult> TelegramUpdateAsync(
        string secret, HttpRequest request, ProviderDirectory directory, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("Herald.Callbacks.Telegram");
        var account = directory.FindTelegramByWebhookSecret(secret);
        if (account is null || !TelegramWebhook.VerifySecret(request.Headers[TelegramWebhook.SecretHeader].FirstOrDefault(), secret))
        {
            logger.CallbackRejected(account is null ? "unknown webhook secret" : "bad secret token header");
            return Problems.Result(StatusCodes.Status401Unauthorized, "unauthorized", "The webhook secret does not match a bot account's.");
        }

        var (body, error) = await RequestBody.ReadAsync(request, MaxCallbackBytes);
        if (error is not null)
        {
            return error;
        }

        try
        {
            var update = TelegramWebhook.ParseUpdate(body.Span);
            logger.TelegramUpdateReceived(account.Id, update.UpdateId, update.Kind ?? "none");
        }
        catch (InvalidWebhookPayloadException e)
        {
            logger.CallbackRejected("malformed update");
            return Problems.Result(StatusCodes.Status400BadRequest, "validation", "Malformed update.", e.Message,
                [new Ingest.InputError("/update_id", e.Message)]);
        }

        return TypedResults.Ok();
    }

    /// <summary><c>Authorization: Bearer {token}</c>, compared in constant time.</summary>
    private static bool BearerMatches(HttpRequest request, string token)
    {
        var header = request.Headers.Authorization.FirstOrDefault();
        const string scheme = "Bearer ";
        if (header is null || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return ApiKeys.FixedTimeEquals(header[scheme.Length..].Trim(), token);
    }

    private static async Task<IResult> WhatsAppStatusesAsync(
        HttpRequest request, ProviderDirectory directory, ReceiptProcessor receipts, ILoggerFactory loggers, CancellationToken ct)
    {
        var logger = loggers.CreateLogger("Herald.Callbacks.WhatsApp");
        var (body, tooLarge) = await RequestBody.ReadAsync(request, MaxCallbackBytes);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        WhatsAppStatusBatch batch;
        try
        {
            batch = WhatsAppWebhook.Parse(body.Span);
        }
        catch (InvalidWebhookPayloadException e)
        {
            logger.CallbackRejected("malformed");
            return Problems.Result(StatusCodes.Status400BadRequest, "validation", "Malformed webhook.", e.Message);
        }

        // The body names the phone number; the signature must be valid for that number's app secret.
        var signature = request.Headers["X-Hub-Signature-256"].FirstOrDefault();
        var accounts = new Dictionary<string, Guid>(StringComparer.Ordinal);
        foreach (var phoneNumberId in batch.PhoneNumberIds)
        {
            // Bound to the account whose app secret made the signature: never to an account only because it names the
            // same number (issue #13: another tenant's registration of a number must not capture or break its receipts).
            var candidates = directory.FindWhatsAppByPhoneNumberId(phoneNumberId);
            var signer = candidates.FirstOrDefault(account =>
                WhatsAppSettings.Parse(account.Settings).AppSecret is { } appSecret && WhatsAppWebhook.VerifySignature(body.Span, signature, appSecret));
            if (signer is null)
            {
                logger.CallbackRejected(candidates.Count == 0 ? "unknown phone number id" : "bad signature");
                return Problems.Result(StatusCodes.Status401Unauthorized, "unauthorized", "Signature check failed.");
            }

            accounts[phoneNumberId] = signer.Id;
        }

        foreach (var group in batch.Receipts.Where(r => r.PhoneNumberId is not null).GroupBy(r => r.PhoneNumberId!))
        {
            await receipts.ProcessAsync(group.Select(r => r.Receipt), accounts[group.Key], ct);
        }

        return TypedResults.Ok();
    }
}
