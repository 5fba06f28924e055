using System.Buffers;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Throttling;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox.WhatsApp;

/// <summary>
/// Sends WhatsApp status webhooks like Meta: signed with the app secret, several statuses per POST,
/// retried with backoff for a bounded time. A follow-up status (delivered after sent) is only scheduled
/// once the previous one was acknowledged, so a receiver never sees them out of order.
/// </summary>
public sealed partial class WhatsAppWebhookDispatcher : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly Channel<StatusUpdate> incoming =
        Channel.CreateUnbounded<StatusUpdate>(new UnboundedChannelOptions { SingleReader = true });

    // Owned by the dispatch loop only.
    private readonly PriorityQueue<StatusUpdate, long> due = new();

    private readonly SandboxOptions options;
    private readonly SandboxSettings settings;
    private readonly SandboxStats stats;
    private readonly TimeProvider time;
    private readonly IServiceProvider services;
    private readonly ILogger<WhatsAppWebhookDispatcher> logger;
    private readonly HttpClient http;
    private readonly byte[] secret;
    private string? callbackUrl;

    /// <summary>Creates the dispatcher.</summary>
    public WhatsAppWebhookDispatcher(
        IOptions<SandboxOptions> options,
        SandboxSettings settings,
        SandboxStats stats,
        TimeProvider time,
        IServiceProvider services,
        ILogger<WhatsAppWebhookDispatcher> logger)
    {
        this.options = options.Value;
        this.settings = settings;
        this.stats = stats;
        this.time = time;
        this.services = services;
        this.logger = logger;
        secret = Encoding.UTF8.GetBytes(this.options.AppSecret);
        http = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = this.options.MaxConcurrentWebhookPosts,
        })
        {
            Timeout = TimeSpan.FromSeconds(15),
        };
    }

    /// <summary>The URL status webhooks are POSTed to, once it is known.</summary>
    public string? CallbackUrl => callbackUrl ?? ResolveCallbackUrl();

    /// <summary>Computes Meta's signature header value for a body: <c>sha256=&lt;hex&gt;</c>.</summary>
    public static string Sign(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(secret, body));

    internal void Schedule(StatusUpdate update, long delayMs)
    {
        var counters = stats.Webhooks;
        if (Interlocked.Increment(ref counters.Pending) > options.MaxPendingWebhookStatuses)
        {
            Interlocked.Decrement(ref counters.Pending);
            Interlocked.Increment(ref counters.StatusesDropped);
            return;
        }

        update.DueMs = NowMs() + delayMs;
        incoming.Writer.TryWrite(update);
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        http.Dispose();
        base.Dispose();
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var slots = new SemaphoreSlim(options.MaxConcurrentWebhookPosts);
        Task<bool>? waitForNew = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                while (incoming.Reader.TryRead(out var item))
                {
                    due.Enqueue(item, item.DueMs);
                }

                if (!due.TryPeek(out _, out var firstDue))
                {
                    waitForNew ??= incoming.Reader.WaitToReadAsync(stoppingToken).AsTask();
                    await waitForNew.ConfigureAwait(false);
                    waitForNew = null;
                    continue;
                }

                var now = NowMs();
                if (firstDue > now)
                {
                    waitForNew ??= incoming.Reader.WaitToReadAsync(stoppingToken).AsTask();
                    var delay = Task.Delay(TimeSpan.FromMilliseconds(firstDue - now), time, stoppingToken);
                    await Task.WhenAny(waitForNew, delay).ConfigureAwait(false);
                    if (waitForNew.IsCompleted)
                    {
                        waitForNew = null;
                    }

                    continue;
                }

                await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
                now = NowMs();
                var batchSize = settings.Current.WebhookBatchSize;
                var batch = new List<StatusUpdate>(Math.Min(batchSize, due.Count));
                while (batch.Count < batchSize && due.TryPeek(out var next, out var nextDue) && nextDue <= now)
                {
                    batch.Add(due.Dequeue());
                }

                _ = PostAsync(batch, slots, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: pending statuses are lost with the process, like any in-memory simulator state.
        }
    }

    private async Task PostAsync(List<StatusUpdate> batch, SemaphoreSlim slots, CancellationToken cancellationToken)
    {
        var counters = stats.Webhooks;
        var now = NowMs();
        foreach (var update in batch)
        {
            if (update.FirstAttemptMs == 0)
            {
                update.FirstAttemptMs = now;
            }

            update.Attempts++;
        }

        var ok = false;
        string? failure = null;
        try
        {
            var url = CallbackUrl;
            if (url is null)
            {
                failure = "callback address not known yet";
            }
            else
            {
                var body = BuildBody(batch);
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
                request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", Sign(secret, body));
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken)
                    .ConfigureAwait(false);
                ok = response.IsSuccessStatusCode;
                failure = ok ? null : $"HTTP {(int)response.StatusCode}";
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            failure = ex.Message;
        }
        catch (OperationCanceledException)
        {
            return;
        }
        finally
        {
            slots.Release();
        }

        Interlocked.Add(ref counters.Pending, -batch.Count);
        if (ok)
        {
            Interlocked.Increment(ref counters.Posts);
            Interlocked.Add(ref counters.StatusesDelivered, batch.Count);
            var receiptDelay = settings.Current.ReceiptDelayMs;
            foreach (var update in batch)
            {
                if (update.Next is { } next)
                {
                    Schedule(
                        new StatusUpdate
                        {
                            MessageId = update.MessageId,
                            Status = next,
                            RecipientId = update.RecipientId,
                            PhoneNumberId = update.PhoneNumberId,
                            Category = update.Category,
                            Timestamp = (NowMs() + receiptDelay) / 1000,
                        },
                        receiptDelay);
                }
            }

            return;
        }

        Interlocked.Increment(ref counters.FailedPosts);
        var retryWindowMs = options.WebhookRetryWindowSeconds * 1000L;
        var attempts = batch[0].Attempts;
        LogWebhookFailed(logger, batch.Count, attempts, failure ?? "unknown");
        foreach (var update in batch)
        {
            if (now - update.FirstAttemptMs >= retryWindowMs)
            {
                Interlocked.Increment(ref counters.StatusesDropped);
                continue;
            }

            // 250 ms, 500 ms, 1 s ... capped, with jitter so retries of many batches spread out.
            var backoff = Math.Min(250L << Math.Min(update.Attempts - 1, 16), (long)MaxBackoff.TotalMilliseconds);
            Schedule(update, backoff + Random.Shared.NextInt64(backoff / 4 + 1));
        }
    }

    private byte[] BuildBody(List<StatusUpdate> batch)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + (batch.Count * 320));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("object", "whatsapp_business_account");
            json.WriteStartArray("entry");
            json.WriteStartObject();
            json.WriteString("id", options.BusinessAccountId);
            json.WriteStartArray("changes");
            foreach (var group in batch.GroupBy(u => u.PhoneNumberId, StringComparer.Ordinal))
            {
                json.WriteStartObject();
                json.WriteStartObject("value");
                json.WriteString("messaging_product", "whatsapp");
                json.WriteStartObject("metadata");
                json.WriteString("display_phone_number", options.DisplayPhoneNumber);
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
        var baseUrl = options.CallbackBaseUrl;
        if (string.IsNullOrWhiteSpace(baseUrl))
        {
            var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
            if (addresses is null || addresses.Count == 0)
            {
                return null;
            }

            var first = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
                ?? addresses.First();
            baseUrl = ToLoopback(first);
        }

        callbackUrl = baseUrl.TrimEnd('/') + "/callbacks/whatsapp";
        LogCallbackResolved(logger, callbackUrl);
        return callbackUrl;
    }

    /// <summary>Turns a wildcard listening address (0.0.0.0, [::], +, *) into one a client can call.</summary>
    internal static string ToLoopback(string address)
    {
        foreach (var wildcard in (string[])["0.0.0.0", "[::]", "+", "*"])
        {
            var marker = "://" + wildcard + ":";
            var at = address.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                return string.Concat(address.AsSpan(0, at), "://127.0.0.1:", address.AsSpan(at + marker.Length));
            }
        }

        return address;
    }

    private long NowMs() => time.GetUtcNow().ToUnixTimeMilliseconds();

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Sandbox WhatsApp status webhooks go to {Url}")]
    private static partial void LogCallbackResolved(ILogger logger, string url);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Sandbox webhook POST of {Count} statuses failed (attempt {Attempt}): {Reason}; retrying")]
    private static partial void LogWebhookFailed(ILogger logger, int count, int attempt, string reason);
}
