using System.Text.Json;
using Herald.Channels.Callbacks;
using Herald.Channels.Providers;
using Herald.Channels.Push;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Server.Webhooks;
using Herald.Storage;

namespace Herald.Server.Replies;

/// <summary>
/// <c>POST /callbacks/push/{accountId}</c>: the bank's app reports the action a customer tapped under a push notification
/// (issue #16). FCM carries nothing back, so the app posts it, signed like Herald's own webhooks but with the FCM
/// account's <c>callbackSecret</c>: <c>Herald-Signature: t={unix seconds},v1={hex HMAC-SHA256(secret, "{t}.{raw body}")}</c>.
/// <list type="bullet">
/// <item>The account decides the tenant: the notification must be one of its tenant's, sent as push through this
/// account; anything else is refused (404, the same answer as an unknown id) and nothing is stored.</item>
/// <item>A timestamp more than <see cref="Tolerance"/> away is refused (401); a replay within it carries the same tap
/// <c>id</c> and is stored once (the store's vendor-retry rule).</item>
/// <item>The tap then goes through <see cref="InboundMessageProcessor"/> like every other answer: correlation with the
/// notification's push send, the <c>notification.reply</c> webhook, late marking.</item>
/// </list>
/// </summary>
public static partial class PushCallbacksApi
{
    /// <summary>How far the signature's timestamp may be from Herald's clock, either way.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    /// <summary>The largest body taken: a tap is a few hundred bytes.</summary>
    public const int MaxBodyBytes = 4096;

    private const int MaxIdLength = 64;

    public static IEndpointRouteBuilder MapPushCallbacks(this IEndpointRouteBuilder app)
    {
        // Like the providers' callbacks: no API key, the signature vouches for the body.
        app.MapPost("/callbacks/push/{accountId:guid}", TapAsync).WithTags("Callbacks").WithName("reportPushTap")
            .WithSummary("The bank's app reports a tapped push action (signed with the FCM account's callbackSecret, no API key)")
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge);
        return app;
    }

    private static async Task<IResult> TapAsync(
        Guid accountId, HttpRequest request, ProviderDirectory directory, INotificationStore notifications, InboundMessageProcessor processor,
        TimeProvider time, ILoggerFactory loggers, CancellationToken ct)
    {
        var logger = loggers.CreateLogger(typeof(PushCallbacksApi));
        if (directory.Find(accountId) is not { Kind: FcmConnector.ConnectorKind } account || Secret(account.Settings) is not { Length: > 0 } secret)
        {
            return Problems.NotFound("Push callbacks for this account");
        }

        if (request.ContentLength > MaxBodyBytes)
        {
            return Problems.Result(StatusCodes.Status413PayloadTooLarge, "too-large", $"The body is larger than {MaxBodyBytes} bytes.");
        }

        // Read with the cap enforced while it streams in: a chunked body names no length.
        var body = new byte[MaxBodyBytes + 1];
        var length = 0;
        int read;
        while (length <= MaxBodyBytes && (read = await request.Body.ReadAsync(body.AsMemory(length), ct)) > 0)
        {
            length += read;
        }

        if (length > MaxBodyBytes)
        {
            return Problems.Result(StatusCodes.Status413PayloadTooLarge, "too-large", $"The body is larger than {MaxBodyBytes} bytes.");
        }

        body = body[..length];
        var now = time.GetUtcNow();
        if (request.Headers[WebhookSignature.Header].FirstOrDefault() is not { Length: > 0 } signature
            || !WebhookSignature.Verify(secret, signature, body, now, Tolerance))
        {
            LogRefused(logger, accountId, "signature");
            return Problems.Result(StatusCodes.Status401Unauthorized, "unauthorized", "The Herald-Signature is missing, wrong or outside the time tolerance.");
        }

        var (tap, errors) = Parse(body);
        if (tap is null)
        {
            return Problems.Invalid(errors);
        }

        // The account's tenant, never the payload's: another tenant's notification is as unknown as a made-up id.
        var sent = await notifications.GetAsync(account.TenantId, tap.NotificationId, ct) is null
            ? null
            : (await notifications.GetAttemptsAsync(account.TenantId, tap.NotificationId, ct))
                .Where(a => a.ProviderId == account.Id && a.Channel == Channel.Push && a.ProviderMessageId is not null)
                .MaxBy(static a => a.CreatedAt);
        if (sent is null)
        {
            LogRefused(logger, accountId, "unknown notification");
            return Problems.Result(StatusCodes.Status404NotFound, "not-found", "No push notification of this account has this id.",
                errors: [new InputError("/notificationId", "Not a notification sent as push through this account.")]);
        }

        // The tap answers the push send: the processor finds it among the account's sends, as a WhatsApp context id.
        await processor.ProcessAsync(account, [new InboundMessage(Channel.Push, tap.Device, "tap:" + tap.Id, now)
        {
            ActionId = tap.ActionId,
            InReplyTo = sent.ProviderMessageId,
        }], ct);
        return Results.NoContent();
    }

    private static string? Secret(string settings)
    {
        using var document = JsonDocument.Parse(settings);
        return document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty(FcmChannel.CallbackSecretSetting, out var secret) && secret.ValueKind == JsonValueKind.String
            ? secret.GetString()
            : null;
    }

    private sealed record Tap(string Id, Guid NotificationId, string ActionId, string Device);

    /// <summary><c>{"id", "notificationId", "actionId", "device"}</c>, every field required.</summary>
    private static (Tap?, IReadOnlyList<InputError>) Parse(byte[] body)
    {
        var errors = new List<InputError>();
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body);
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return (null, [new InputError("", "Must be a JSON object.")]);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return (null, [new InputError("", "Must be a JSON object.")]);
        }

        string? Text(string name, string rule, Func<string, bool> valid)
        {
            var value = root.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            if (value is null || !valid(value))
            {
                errors.Add(new InputError("/" + name, rule));
                return null;
            }

            return value;
        }

        var id = Text("id", "Required: the tap's own id, 1 to 64 characters [A-Za-z0-9._:-], the same when the app posts it again.", IsId);
        var notification = Text("notificationId", "Required: the heraldNotificationId of the push data.", static v => Guid.TryParse(v, out _));
        var action = Text("actionId", "Required: the id of the tapped choice (one of heraldActions).", static v => v.Length is > 0 and <= 256);
        var device = Text("device", "Required: the app's id of the device, 1 to 64 characters.", static v => v.Length is > 0 and <= MaxIdLength);
        return errors.Count > 0 ? (null, errors) : (new Tap(id!, Guid.Parse(notification!), action!, device!), errors);
    }

    private static bool IsId(string value) =>
        value.Length is > 0 and <= MaxIdLength && value.All(static c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-');

    [LoggerMessage(EventId = 4810, Level = LogLevel.Warning, Message = "Push action callback for account {AccountId} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, Guid accountId, string reason);
}
