using Herald.Channels.Providers;
using Herald.Channels.WhatsApp;
using Herald.Server.Delivery;

namespace Herald.Server.Callbacks;

/// <summary>Provider callbacks (SPEC §3): receipts come in here.</summary>
public static class CallbacksApi
{
    private const int MaxCallbackBytes = 1024 * 1024;

    public static IEndpointRouteBuilder MapCallbacksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/callbacks").WithTags("Callbacks");
        group.MapGet("/whatsapp", VerifyWhatsApp);
        group.MapPost("/whatsapp", WhatsAppStatusesAsync);
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

    private static async Task<IResult> WhatsAppStatusesAsync(
        HttpRequest request, ProviderDirectory directory, ReceiptProcessor receipts, ILoggerFactory loggers, CancellationToken ct)
    {
        var logger = loggers.CreateLogger("Herald.Callbacks.WhatsApp");
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);
        if (buffer.Length > MaxCallbackBytes)
        {
            return Problems.Result(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "The callback is too large.");
        }

        var body = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
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
        foreach (var phoneNumberId in batch.PhoneNumberIds)
        {
            var account = directory.FindWhatsAppByPhoneNumberId(phoneNumberId);
            var appSecret = account is null ? null : WhatsAppSettings.Parse(account.Settings).AppSecret;
            if (appSecret is null || !WhatsAppWebhook.VerifySignature(body.Span, signature, appSecret))
            {
                logger.CallbackRejected(account is null ? "unknown phone number id" : "bad signature");
                return Problems.Result(StatusCodes.Status401Unauthorized, "unauthorized", "Signature check failed.");
            }
        }

        await receipts.ProcessAsync(batch.Receipts.Select(r => r.Receipt), ct);
        return TypedResults.Ok();
    }
}
