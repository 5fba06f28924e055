using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Herald.Channels.Providers;
using Herald.Channels.WhatsApp;
using Herald.Sandbox.Mailbox;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Bench.Workloads;

/// <summary>
/// (issue #16) A burst of inbound replies must not slow critical delivery. Critical notifications (Telegram, one every
/// 20 ms) are timed accept → provider (the sandbox mailbox's time minus the POST's) before the burst and during it; the
/// burst is <c>--replies</c> WhatsApp Cloud API <c>messages</c> webhooks (a typed text each, from distinct numbers, so
/// every one takes the SMS-style "latest open question" look-up and is stored as a customer message), signed with the
/// number's app secret as Meta signs them, posted by 8 concurrent senders to <c>/callbacks/whatsapp-cloud/{account}</c>.
/// A webhook is answered once its message is stored, so replies/s is webhooks answered 2xx per second of the burst.
/// </summary>
public static class RepliesWorkload
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private const int CriticalsBefore = 100;
    private const int Senders = 8;

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        Report.Line("");
        Report.Line($"== replies: {options.Replies:N0} inbound WhatsApp replies while critical notifications are sent ==");
        var (_, http) = await host.CreateTenantAsync("Bench replies", ct);
        using var _ = http;
        var accountId = (await http.GetFromJsonAsync<JsonArray>("/v1/providers", ct))!
            .Single(p => p!["kind"]!.GetValue<string>() == WhatsAppCloudConnector.ConnectorKind)!["id"]!.GetValue<string>();
        var account = host.Services.GetRequiredService<ProviderDirectory>().Find(Guid.Parse(accountId))!;
        var settings = WhatsAppSettings.Parse(account.Settings);
        var mailbox = host.Services.GetRequiredService<SandboxMailbox>();

        // Warm-up (not counted): the first sends after start pay for JIT, connections and caches.
        await CriticalsAsync(http, mailbox, 69, 20, static () => false, ct);
        var before = await CriticalsAsync(http, mailbox, 70, CriticalsBefore, static () => false, ct);
        Report.Line($"replies.critical_before: p50 {Report.Ms(before.At(50))}  p99 {Report.Ms(before.At(99))}  ({before.Count}/{CriticalsBefore} seen)");

        var secret = Encoding.UTF8.GetBytes(settings.AppSecret!);
        var next = -1;
        var failed = 0;
        var done = 0;
        var clock = Stopwatch.StartNew();
        var burst = Task.WhenAll(Enumerable.Range(0, Senders).Select(_ => Task.Run(
            async () =>
            {
                while (Interlocked.Increment(ref next) < options.Replies)
                {
                    var body = Webhook(settings.PhoneNumberId, next);
                    using var request = new HttpRequestMessage(HttpMethod.Post, $"/callbacks/{WhatsAppCloudConnector.ConnectorKind}/{accountId}")
                    {
                        Content = Payloads.Content(body),
                    };
                    request.Headers.TryAddWithoutValidation(WhatsAppWebhook.SignatureHeader, "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(secret, body)));
                    using var response = await http.SendAsync(request, ct);
                    await response.Content.ReadAsByteArrayAsync(ct);
                    Interlocked.Increment(ref response.IsSuccessStatusCode ? ref done : ref failed);
                }
            },
            ct)));
        var during = await CriticalsAsync(http, mailbox, 71, int.MaxValue, () => burst.IsCompleted, ct);
        await burst;
        var elapsed = clock.Elapsed;

        Report.Line($"replies.critical_during: p50 {Report.Ms(during.At(50))}  p99 {Report.Ms(during.At(99))}  ({during.Count} criticals sent during the burst)");
        Report.Line($"replies.processed: {done:N0} in {elapsed.TotalSeconds:F1} s = {done / elapsed.TotalSeconds:F0}/s ({failed} webhooks refused or failed, {Senders} senders)");
        report.Add(new Figure("critical p99 during reply burst", during.At(99), "ms", 50, HigherIsBetter: false, Note: $"before: {Report.Ms(before.At(99))}"));
        report.Add(new Figure("replies processed", done / elapsed.TotalSeconds, "/s", null, HigherIsBetter: true));
    }

    /// <summary>Sends critical notifications one every 20 ms (at most <paramref name="max"/>, until <paramref name="stop"/>)
    /// and times each accept → sandbox mailbox.</summary>
    private static async Task<Percentiles> CriticalsAsync(HttpClient http, SandboxMailbox mailbox, int seed, int max, Func<bool> stop, CancellationToken ct)
    {
        var time = TimeProvider.System;
        var issued = new Dictionary<string, DateTimeOffset>();
        var posts = new List<Task<int>>();
        var pace = Stopwatch.StartNew();
        for (var i = 0; i < max && !stop(); i++)
        {
            var due = Interval * i;
            if (pace.Elapsed < due)
            {
                await Task.Delay(due - pace.Elapsed, ct);
            }

            var chatId = Payloads.ChatId(seed, i);
            issued[chatId] = time.GetUtcNow();
            posts.Add(ClosedLoop.PostAsync(http, "/v1/notifications", Encoding.UTF8.GetBytes(Payloads.Telegram(chatId, type: "fraud.alert", priority: "critical")), 1, ct));
        }

        await Task.WhenAll(posts);
        var received = new Dictionary<string, DateTimeOffset>();
        var deadline = Stopwatch.StartNew();
        while (received.Count < issued.Count && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            foreach (var message in mailbox.Find("telegram"))
            {
                if (issued.ContainsKey(message.To))
                {
                    received.TryAdd(message.To, message.Time);
                }
            }

            if (received.Count < issued.Count)
            {
                await Task.Delay(200, ct);
            }
        }

        return new Percentiles(received.Select(r => (r.Value - issued[r.Key]).TotalMilliseconds));
    }

    /// <summary>Meta's "messages" webhook with one typed text from customer <paramref name="i"/>.</summary>
    private static byte[] Webhook(string phoneNumberId, int i)
    {
        var from = "4915" + i.ToString("D8", CultureInfo.InvariantCulture) + "7";
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return Encoding.UTF8.GetBytes($$$"""
            {"object":"whatsapp_business_account","entry":[{"id":"bench-waba","changes":[{"value":{"messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550783881","phone_number_id":"{{{phoneNumberId}}}"},
            "contacts":[{"profile":{"name":"Bench Customer"},"wa_id":"{{{from}}}"}],
            "messages":[{"from":"{{{from}}}","id":"wamid.bench-{{{i}}}-{{{Guid.NewGuid():N}}}","timestamp":"{{{now}}}","type":"text","text":{"body":"YES"}}]},
            "field":"messages"}]}]}
            """);
    }
}
