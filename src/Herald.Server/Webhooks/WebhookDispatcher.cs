using System.Globalization;
using System.Net;
using System.Text.Json;
using Herald.Channels.Egress;
using Herald.Core.Notifications;
using Herald.Core.Observability;
using Herald.Storage;
using Herald.Storage.Secrets;
using Microsoft.Extensions.Options;

namespace Herald.Server.Webhooks;

/// <summary>
/// Delivers status events to the banks' endpoints (worker role, every node; no leader): fans captured events out
/// into deliveries, claims due deliveries as leases, POSTs each signed, and stores the outcome — 2xx succeeded,
/// anything else retried with exponential backoff and jitter (honouring Retry-After) until the retry window ends,
/// then dead. A node that dies mid-send leaves its claims to come back after the lease: at-least-once, and each
/// event carries an id receivers dedupe on.
/// </summary>
public sealed partial class WebhookDispatcher : BackgroundService
{
    private readonly IWebhookStore _store;
    private readonly ISecretProtector _secrets;
    private readonly TimeProvider _time;
    private readonly WebhookOptions _options;
    private readonly HeraldMetrics _metrics;
    private readonly ILogger<WebhookDispatcher> _logger;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _slots;

    public WebhookDispatcher(
        IWebhookStore store, ISecretProtector secrets, TimeProvider time, IOptions<WebhookOptions> options, HeraldMetrics metrics,
        EgressGuard egress, ILogger<WebhookDispatcher> logger)
    {
        _store = store;
        _secrets = secrets;
        _time = time;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _slots = new SemaphoreSlim(_options.Concurrency);
        // Every connection through the egress guard (checked after DNS, connected to the checked address), never
        // through an environment proxy, no redirects.
        var handler = WebhookUrlGuard.Egress(egress, _options).Handler();
        handler.PooledConnectionLifetime = TimeSpan.FromMinutes(5);
        handler.MaxConnectionsPerServer = _options.Concurrency;
        _http = new HttpClient(handler)
        {
            Timeout = _options.Timeout,
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("Herald-Webhooks/1");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.AllowLoopback)
        {
            LogLoopbackAllowed(_logger);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var busy = await RunOnceAsync(stoppingToken);
                if (!busy)
                {
                    await Task.Delay(_options.PollInterval, _time, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogLoopFailed(_logger, e);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    public override void Dispose()
    {
        _http.Dispose();
        _slots.Dispose();
        base.Dispose();
    }

    /// <summary>One round: fan out new events, then send what is due. True when there was work (poll again at once).</summary>
    internal async Task<bool> RunOnceAsync(CancellationToken ct)
    {
        var fannedOut = await _store.FanOutAsync(_options.ClaimBatch, _time.GetUtcNow(), ct);
        var claimed = await _store.ClaimDeliveriesAsync(_options.ClaimBatch, _options.Lease, _time.GetUtcNow(), ct);
        if (claimed.Count > 0)
        {
            var results = await Task.WhenAll(claimed.Select(c => SendAsync(c, ct)));
            await _store.CompleteDeliveriesAsync(results, _time.GetUtcNow(), ct);
        }

        return fannedOut >= _options.ClaimBatch || claimed.Count >= _options.ClaimBatch;
    }

    /// <summary>W3C Trace Context: the bank's systems join the notification's trace.</summary>
    private const string TraceParentHeader = "traceparent";

    private async Task<WebhookDeliveryResult> SendAsync(ClaimedWebhookDelivery claimed, CancellationToken ct)
    {
        var delivery = claimed.Delivery;
        var body = JsonSerializer.SerializeToUtf8Bytes(Payload(claimed), WebhooksJson.Default.WebhookEvent);
        int? statusCode = null;
        string? error;
        TimeSpan? retryAfter = null;
        await _slots.WaitAsync(ct);
        var started = _time.GetTimestamp();
        // The notification's trace (its stored traceparent, the bank's own when it sent one), also on the request.
        using var span = HeraldTraces.StartIn("herald.webhook", claimed.Notification?.TraceParent);
        span?.SetTag(HeraldTraces.Tags.Notification, delivery.NotificationId);
        span?.SetTag(HeraldTraces.Tags.Event, delivery.EventId);
        try
        {
            var secret = _secrets.Unprotect(claimed.Endpoint.Secret, WebhooksApi.SecretContext(claimed.Endpoint.Id));
            using var request = new HttpRequestMessage(HttpMethod.Post, claimed.Endpoint.Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json") { CharSet = "utf-8" };
            request.Headers.Add(WebhookSignature.Header, WebhookSignature.Sign(secret, _time.GetUtcNow(), body));
            request.Headers.Add("Herald-Event-Id", delivery.EventId.ToString());
            request.Headers.Add("Herald-Delivery-Id", delivery.Id.ToString());
            request.Headers.Add("Herald-Delivery-Attempt", delivery.Attempts.ToString(CultureInfo.InvariantCulture));
            if ((span?.Id ?? claimed.Notification?.TraceParent) is { } traceParent)
            {
                request.Headers.TryAddWithoutValidation(TraceParentHeader, traceParent);
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            statusCode = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                _metrics.WebhookSent(succeeded: true, _time.GetElapsedTime(started));
                return new WebhookDeliveryResult(delivery.Id, WebhookDeliveryState.Succeeded, null, statusCode, null, delivery.Attempts);
            }

            // The status code only: the reason phrase is the far end's text (see Herald.Channels.ProviderErrors).
            error = $"HTTP {statusCode}";
            if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
            {
                retryAfter = response.Headers.RetryAfter?.Delta
                    ?? (response.Headers.RetryAfter?.Date is { } date ? date - _time.GetUtcNow() : null);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            error = $"no answer within {_options.Timeout.TotalSeconds:0.###} s";
        }
        catch (HttpRequestException e) when (e.InnerException is EgressRefusedException)
        {
            error = "the endpoint is not a public address Herald may connect to (an operator can allow it with Herald:Egress:Allow)";
        }
        catch (HttpRequestException e)
        {
            // Herald's classification, not the exception's text (which may quote the far end).
            error = e.HttpRequestError switch
            {
                HttpRequestError.NameResolutionError => "the host name does not resolve",
                HttpRequestError.ConnectionError => "could not connect",
                HttpRequestError.SecureConnectionError => "the TLS handshake failed",
                HttpRequestError.ResponseEnded => "the connection closed before a whole answer",
                HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError => "the answer is not valid HTTP",
                _ => "the request failed",
            };
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            error = "the endpoint's secret cannot be decrypted with the configured Herald:Secrets keys";
        }
        finally
        {
            _slots.Release();
        }

        _metrics.WebhookSent(succeeded: false, _time.GetElapsedTime(started));
        span.Fail(statusCode is { } code ? $"http_{code}" : "no_answer");
        var now = _time.GetUtcNow();
        if (now - delivery.CreatedAt >= _options.RetryWindow)
        {
            _metrics.WebhookDead();
            LogDead(_logger, delivery.Id, claimed.Endpoint.Id, delivery.Attempts, error);
            return new WebhookDeliveryResult(delivery.Id, WebhookDeliveryState.Dead, null, statusCode, error, delivery.Attempts);
        }

        var next = now + Backoff(delivery.Attempts, retryAfter);
        LogRetry(_logger, delivery.Id, claimed.Endpoint.Id, delivery.Attempts, error, next);
        return new WebhookDeliveryResult(delivery.Id, WebhookDeliveryState.Pending, next, statusCode, error, delivery.Attempts);
    }

    /// <summary>Full jitter over an exponential ceiling; a Retry-After within the ceiling's bound is honoured.</summary>
    internal TimeSpan Backoff(int attempts, TimeSpan? retryAfter)
    {
        var ceiling = TimeSpan.FromTicks((long)Math.Min(
            _options.RetryMaxDelay.Ticks, _options.RetryBaseDelay.Ticks * Math.Pow(2, Math.Clamp(attempts - 1, 0, 30))));
        var delay = TimeSpan.FromTicks((long)(ceiling.Ticks * (0.5 + (Random.Shared.NextDouble() / 2))));
        return retryAfter is { } after && after > delay ? (after < _options.RetryMaxDelay ? after : _options.RetryMaxDelay) : delay;
    }

    internal static WebhookEvent Payload(ClaimedWebhookDelivery claimed)
    {
        var d = claimed.Delivery;
        var n = claimed.Notification;
        if (claimed.Consent is { } c)
        {
            // customer.consent: the ledger entry (issue #16); the address is the bank's own customer's, as a reply's from.
            return new WebhookEvent(
                d.EventId,
                "customer.consent",
                d.OccurredAt,
                new WebhookEventData(null, null, null, null, c.Channel, null, c.CustomerId)
                {
                    Consent = new WebhookConsentData(c.Id, c.Address, c.Type, c.Action, c.Source, c.Actor, c.RecordedAt, c.MessageId),
                });
        }

        if (claimed.Message is { } m)
        {
            // notification.reply (with the notification as it is now) or customer.message (no notification).
            return new WebhookEvent(
                d.EventId,
                m.EventType,
                d.OccurredAt,
                new WebhookEventData(m.NotificationId, n?.ExternalId, n?.Type, n is null ? null : StatusName(n.Status), m.Channel, n?.Priority, m.CustomerId)
                {
                    Reply = new WebhookReplyData(m.Id, m.From, m.ActionId, m.Text, m.Late, m.ReceivedAt),
                });
        }

        return new WebhookEvent(
            d.EventId,
            "notification." + StatusName(d.Status),
            d.OccurredAt,
            new WebhookEventData(d.NotificationId, n?.ExternalId, n?.Type, StatusName(d.Status), n?.Channel, n?.Priority, n?.CustomerId));
    }

    private static string StatusName(NotificationStatus status) =>
        JsonSerializer.Serialize(status, WebhooksJson.Default.NotificationStatus).Trim('"');

    [LoggerMessage(EventId = 4600, Level = LogLevel.Error, Message = "Webhook dispatch round failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4605, Level = LogLevel.Warning, Message = "Webhooks may reach loopback addresses (Herald:Webhooks:AllowLoopback, on in the embedded demo for a receiver on this machine); private, link-local and metadata ranges stay refused")]
    private static partial void LogLoopbackAllowed(ILogger logger);

    [LoggerMessage(EventId = 4601, Level = LogLevel.Information, Message = "Webhook delivery {DeliveryId} to endpoint {EndpointId} failed (try {Attempts}: {Error}); next try at {Next}")]
    private static partial void LogRetry(ILogger logger, Guid deliveryId, Guid endpointId, int attempts, string? error, DateTimeOffset next);

    [LoggerMessage(EventId = 4602, Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId} to endpoint {EndpointId} is dead after {Attempts} tries (last: {Error}); redeliver it through the API")]
    private static partial void LogDead(ILogger logger, Guid deliveryId, Guid endpointId, int attempts, string? error);
}

/// <summary>The body of every webhook Herald sends.</summary>
/// <param name="Type"><c>notification.delivered</c>, <c>notification.failed</c>, <c>.expired</c>, <c>.suppressed</c>,
/// <c>.cancelled</c>; <c>notification.reply</c> and <c>customer.message</c> for what customers send, <c>customer.consent</c>
/// for a consent ledger entry (issue #16).</param>
public sealed record WebhookEvent(Guid Id, string Type, DateTimeOffset CreatedAt, WebhookEventData Data);

/// <param name="NotificationId">The notification the event is about; null for <c>customer.message</c>.</param>
/// <param name="Status">The notification's status (for a reply: as it is now); null for <c>customer.message</c>.</param>
/// <param name="Channel">The channel that delivered, when delivered; for a reply or message, the channel it came on.</param>
public sealed record WebhookEventData(
    Guid? NotificationId, string? ExternalId, string? Type, string? Status, Channel? Channel, Priority? Priority, string? CustomerId)
{
    /// <summary>What the customer sent, for <c>notification.reply</c> and <c>customer.message</c>.</summary>
    public WebhookReplyData? Reply { get; init; }

    /// <summary>The consent ledger entry, for <c>customer.consent</c>.</summary>
    public WebhookConsentData? Consent { get; init; }
}

/// <summary>A consent ledger entry in a <c>customer.consent</c> event (issue #16; the same fields as <c>GET /v1/consents</c>).</summary>
/// <param name="Type">The notification type it applies to; null: every type on the channel.</param>
/// <param name="Actor">The API key id, or <c>customer</c> for a keyword.</param>
/// <param name="MessageId">The customer's message that carried the keyword.</param>
public sealed record WebhookConsentData(
    Guid Id, string Address, string? Type, Herald.Core.Customers.ConsentAction Action, Herald.Core.Customers.ConsentSource Source, string Actor,
    DateTimeOffset RecordedAt, Guid? MessageId);

/// <summary>A customer's reply or message in a webhook event.</summary>
/// <param name="MessageId">Herald's id of the stored message.</param>
/// <param name="From">The customer's address on the channel (E.164 phone or Telegram chat id).</param>
/// <param name="ActionId">The choice named by a button, key or the text; null for free text.</param>
/// <param name="Late">It came after the question's reply time, or answers a cancelled notification.</param>
public sealed record WebhookReplyData(Guid MessageId, string From, string? ActionId, string? Text, bool Late, DateTimeOffset ReceivedAt);
