using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.EndToEnd.Tests.Webhooks;
using Herald.Server.Hosting;

namespace Herald.EndToEnd.Tests.Observability;

/// <summary>
/// A PostgreSQL host that has carried real traffic of every kind the metrics describe (issue #18): a delivered
/// notification with a webhook to the bank, a fallback after a permanent failure, an expiry, a rule's suppression, a
/// fallback after a receipt timeout that delivers at once, a duplicate submission, an opted-out customer, a priced
/// provider account. The traffic runs once per fixture (<see cref="TrafficAsync"/>).
/// </summary>
public sealed partial class ObservedHostFixture(PostgresFixture postgres) : IAsyncLifetime
{
    /// <summary>The series docs/OBSERVABILITY.md promises after traffic like this fixture's, as Prometheus names them.</summary>
    public static readonly string[] DocumentedSeries =
    [
        "herald_notifications_accepted_total",
        "herald_notifications_duplicates_total",
        "herald_notifications_finished_total",
        "herald_attempts_total",
        "herald_delivery_accept_to_first_send_seconds_bucket",
        "herald_delivery_accept_to_delivered_seconds_bucket",
        "herald_provider_call_duration_seconds_bucket",
        "herald_receipt_delay_seconds_bucket",
        "herald_webhook_delivery_duration_seconds_bucket",
        "herald_webhooks_sent_total",
        "herald_queue_depth",
        "herald_queue_oldest_due_age_seconds",
        "herald_claim_batch_size_bucket",
        "herald_sends_in_flight",
        "herald_fallbacks_total",
        "herald_send_failures_total",
        "herald_notifications_expired_total",
        "herald_notifications_suppressed_total",
        "herald_cost_total",
        "herald_provider_circuit_state",
        "herald_ratelimit_permits_total",
        "herald_ratelimit_fallback",
        "herald_dependency_up",
    ];

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly WebhookReceiver _receiver = new();
    private readonly SemaphoreSlim _trafficOnce = new(1, 1);
    private bool _trafficDone;

    public HeraldHost Host { get; private set; } = null!;

    /// <summary>The tenants the traffic went through.</summary>
    public List<Guid> Tenants { get; } = [];

    public async ValueTask InitializeAsync()
    {
        var settings = HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_observe_" + Guid.NewGuid().ToString("N")[..8]));
        settings["Herald:Webhooks:AllowInsecureUrls"] = "true";
        settings["Herald:Webhooks:PollInterval"] = "00:00:00.050";
        settings["Herald:Observability:QueueSampleInterval"] = "00:00:01";
        await _receiver.StartAsync();
        Host = await HeraldHost.StartAsync(HeraldRole.All, settings);
    }

    /// <summary>Runs the traffic once; later callers wait for the first run.</summary>
    public async Task TrafficAsync()
    {
        await _trafficOnce.WaitAsync();
        try
        {
            if (!_trafficDone)
            {
                await RunTrafficAsync();
                _trafficDone = true;
            }
        }
        finally
        {
            _trafficOnce.Release();
        }
    }

    /// <summary>This host's /metrics once every documented series is on it (the queue gauges wait for a sample), or
    /// the last scrape at the deadline: the caller's assertions name what is missing.</summary>
    public async Task<string> ScrapeAsync()
    {
        using var client = Host.Client();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var text = await client.GetStringAsync("/metrics");
            if (DocumentedSeries.All(s => HasSeries(text, s)) || clock.Elapsed > Deadline)
            {
                return text;
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Whether the exposition has a sample line of <paramref name="name"/> (with or without labels).</summary>
    public static bool HasSeries(string exposition, string name) =>
        Regex.IsMatch(exposition, "^" + Regex.Escape(name) + @"(\{[^}]*\})? ", RegexOptions.Multiline);

    /// <summary>Herald's own metric families on the exposition (from its <c># TYPE</c> lines).</summary>
    public static IReadOnlyList<string> HeraldFamilies(string exposition) =>
        [.. TypeLine().Matches(exposition).Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal)];

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await _receiver.DisposeAsync();
        _trafficOnce.Dispose();
    }

    private async Task RunTrafficAsync()
    {
        var (observed, client) = await Host.CreateTenantAsync("Observed Bank");
        Tenants.Add(observed);
        using (var endpoint = await client.PostAsJsonAsync("/v1/webhooks", new { url = _receiver.Url }))
        {
            Assert.Equal(HttpStatusCode.Created, endpoint.StatusCode);
        }

        // A price table and a rate on the WhatsApp account: the cost counter and the rate limiter's permits.
        var whatsApp = (await client.GetFromJsonAsync<JsonArray>("/v1/providers"))!.Single(p => p.Str("channel") == "whatsapp")!;
        using (var patch = await client.PatchAsJsonAsync(
            $"/v1/providers/{whatsApp.Str("id")}", new { currency = "EUR", prices = new Dictionary<string, decimal> { ["*"] = 0.05m }, ratePerSecond = 1000 }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        var payment = new { type = "card.transaction", customer = new { phone = TestData.Phone() }, data = new { text = "Paid" } };
        var delivered = await client.SendAsync(payment, "observe-1");
        using (var repeat = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications") { Content = JsonContent.Create(payment) })
        {
            repeat.Headers.Add("Idempotency-Key", "observe-1");
            using var answer = await client.SendAsync(repeat);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }
        var fellBack = await client.SendAsync(new { type = "otp", customer = new { phone = TestData.Phone(Herald.Sandbox.MagicRecipients.NotOnWhatsApp) }, data = new { text = "Code 1" } });
        // No WhatsApp receipt: after the receipt timeout the SMS send is the fallback and delivers at once.
        var timedOut = await client.SendAsync(new { type = "otp", customer = new { phone = TestData.Phone(Herald.Sandbox.MagicRecipients.NoWhatsAppReceipt) }, data = new { text = "Code 2" } });
        var expired = await client.SendAsync(new { type = "otp", customer = new { phone = TestData.Phone() }, expiresAt = "2020-01-01T00:00:00Z" });
        await client.WaitForStatusAsync(delivered, "delivered", Deadline);
        await client.WaitForStatusAsync(fellBack, "delivered", Deadline);
        await client.WaitForStatusAsync(expired, "expired", Deadline);
        await client.WaitForStatusAsync(timedOut, "delivered", Deadline);

        // A customer opted out of the type on every channel: suppressed at ingest for the opt-out.
        using (var customer = await client.PutAsJsonAsync("/v1/customers/opted-out", new { phone = TestData.Phone(), optOuts = new[] { new { type = "service.news" } } }))
        {
            Assert.True(customer.IsSuccessStatusCode, await customer.Content.ReadAsStringAsync());
        }

        var optedOut = await client.SendAsync(new { type = "service.news", customer = new { id = "opted-out" } });
        Assert.Equal("suppressed", (await client.GetNotificationAsync(optedOut)).Str("status"));

        var (mutedId, muted) = await Host.CreateTenantAsync("Muted Bank");
        Tenants.Add(mutedId);
        await RulesTests.PutAsync(muted, """{"rules": [{"name": "mute-all", "then": {"suppress": true}}]}""");
        var suppressed = await muted.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() } });
        Assert.Equal("suppressed", (await muted.GetNotificationAsync(suppressed)).Str("status"));

        await TestData.EventuallyAsync(() => Task.FromResult(_receiver.Received.Count), n => n > 0, Deadline, "a status webhook at the bank");
    }

    [GeneratedRegex(@"^# TYPE (herald_[a-z0-9_]+) ", RegexOptions.Multiline)]
    private static partial Regex TypeLine();
}
