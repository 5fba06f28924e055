using System.Buffers;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Sandbox.Callbacks;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Throttling;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox.WhatsApp;

/// <summary>
/// Sends WhatsApp status webhooks like Meta: signed with the app secret of the sending number's account
/// (<see cref="ISandboxCallbackSecrets"/>), several statuses of one number per POST, to Herald's
/// <c>/callbacks/whatsapp</c>; delivery, retries and ordering come from <see cref="CallbackDispatcher{TItem}"/>.
/// </summary>
public sealed partial class WhatsAppWebhookDispatcher : CallbackDispatcher<StatusUpdate>
{
    private readonly IServiceProvider services;
    private readonly ILogger<WhatsAppWebhookDispatcher> logger;
    private readonly ISandboxCallbackSecrets secrets;
    private string? callbackUrl;

    /// <summary>Creates the dispatcher.</summary>
    public WhatsAppWebhookDispatcher(
        IOptions<SandboxOptions> options,
        SandboxSettings settings,
        SandboxStats stats,
        TimeProvider time,
        IServiceProvider services,
        ISandboxCallbackSecrets secrets,
        ILogger<WhatsAppWebhookDispatcher> logger)
        : base(options.Value, settings, stats.Webhooks, time, logger)
    {
        this.services = services;
        this.secrets = secrets;
        this.logger = logger;
    }

    /// <summary>The URL status webhooks are POSTed to, once it is known.</summary>
    public string? CallbackUrl => callbackUrl ?? ResolveCallbackUrl();

    /// <inheritdoc />
    protected override int BatchSize => Settings.Current.WebhookBatchSize;

    /// <summary>Computes Meta's signature header value for a body: <c>sha256=&lt;hex&gt;</c>.</summary>
    public static string Sign(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(secret, body));

    /// <inheritdoc />
    /// <remarks>One number per POST: each is signed with its own account's app secret.</remarks>
    protected override bool CanShareBatch(StatusUpdate first, StatusUpdate next) =>
        string.Equals(first.PhoneNumberId, next.PhoneNumberId, StringComparison.Ordinal);

    /// <inheritdoc />
    protected override HttpRequestMessage? BuildRequest(IReadOnlyList<StatusUpdate> batch, out string? failure)
    {
        var url = CallbackUrl;
        if (url is null)
        {
            failure = "callback address not known yet";
            return null;
        }

        if (secrets.WhatsAppAppSecret(batch[0].PhoneNumberId) is not { Length: > 0 } appSecret)
        {
            failure = "no app secret known for the phone number id";
            return null;
        }

        var secret = Encoding.UTF8.GetBytes(appSecret);
        failure = null;
        var body = BuildBody(batch);
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", Sign(secret, body));
        return request;
    }

    /// <inheritdoc />
    protected override StatusUpdate? FollowUp(StatusUpdate item, long nowMs, int receiptDelayMs) =>
        item.Next is { } next
            ? new StatusUpdate
            {
                MessageId = item.MessageId,
                Status = next,
                RecipientId = item.RecipientId,
                PhoneNumberId = item.PhoneNumberId,
                Category = item.Category,
                Timestamp = (nowMs + receiptDelayMs) / 1000,
            }
            : null;

    private byte[] BuildBody(IReadOnlyList<StatusUpdate> batch)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + (batch.Count * 320));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("object", "whatsapp_business_account");
            json.WriteStartArray("entry");
            json.WriteStartObject();
            json.WriteString("id", Options.BusinessAccountId);
            json.WriteStartArray("changes");
            foreach (var group in batch.GroupBy(u => u.PhoneNumberId, StringComparer.Ordinal))
            {
                json.WriteStartObject();
                json.WriteStartObject("value");
                json.WriteString("messaging_product", "whatsapp");
                json.WriteStartObject("metadata");
                json.WriteString("display_phone_number", Options.DisplayPhoneNumber);
                json.WriteString("phone_number_id", group.Key);
                json.WriteEndObject();
                json.WriteStartArray("statuses");
                foreach (var update in group)
                {
                    WriteStatus(json, update);
                }

                json.WriteEndArray();
                json.WriteEndObject();
                json.WriteString("field", "messages");
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteStatus(Utf8JsonWriter json, StatusUpdate update)
    {
        json.WriteStartObject();
        json.WriteString("id", update.MessageId);
        json.WriteString("status", update.Status);
        json.WriteString("timestamp", update.Timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        json.WriteString("recipient_id", update.RecipientId);
        if (update.ErrorCode is { } code)
        {
            json.WriteStartArray("errors");
            json.WriteStartObject();
            json.WriteNumber("code", code);
            json.WriteString("title", update.ErrorTitle);
            json.WriteString("message", update.ErrorTitle);
            json.WriteStartObject("error_data");
            json.WriteString("details", update.ErrorDetails);
            json.WriteEndObject();
            json.WriteString("href", "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/");
            json.WriteEndObject();
            json.WriteEndArray();
        }
        else
        {
            json.WriteStartObject("pricing");
            json.WriteBoolean("billable", true);
            json.WriteString("pricing_model", "CBP");
            json.WriteString("category", update.Category);
            json.WriteEndObject();
        }

        json.WriteEndObject();
    }

    private string? ResolveCallbackUrl()
    {
        if (HeraldBaseUrl.Resolve(Options, services) is not { } baseUrl)
        {
            return null;
        }

        callbackUrl = baseUrl + "/callbacks/whatsapp";
        LogCallbackResolved(logger, callbackUrl);
        return callbackUrl;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Sandbox WhatsApp status webhooks go to {Url}")]
    private static partial void LogCallbackResolved(ILogger logger, string url);

}
