using System.Diagnostics;
using System.Text;
using Herald.Sandbox.Mailbox;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Bench.Workloads;

/// <summary>
/// Issue #13 item 7: a big tenant queues a large normal-priority backlog (batch API, the worker draining it
/// meanwhile); its drain rate is measured alone; then a small tenant sends 200 normal notifications one every 20 ms
/// into the same lane while the big tenant's drain rate is measured again. Latency = the time the sandbox mailbox
/// recorded the message minus the time its POST was issued (one process clock). Opt-in: <c>--only fairness</c>.
/// </summary>
public static class FairnessWorkload
{
    private const int SmallSends = 200;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private const int BatchSize = 1_000;
    private const int Posters = 4;
    private const int NormalLane = 2;

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        Report.Line("");
        Report.Line($"== fairness: {SmallSends} normal notifications of a small tenant behind a big tenant's {options.Backlog:N0} queued normal ==");
        var (_, big) = await host.CreateTenantAsync("Bench big tenant", ct);
        var (_, small) = await host.CreateTenantAsync("Bench small tenant", ct);
        using var bigHttp = big;
        using var smallHttp = small;
        var time = TimeProvider.System;
        var mailbox = host.Services.GetRequiredService<SandboxMailbox>();

        await InsertBacklogAsync(bigHttp, options, ct);

        // Alone: the big tenant's backlog is the only work.
        var aloneStart = await host.QueueDepthAsync(ct);
        var alone = Stopwatch.StartNew();
        await Task.Delay(options.Duration, ct);
        var aloneEnd = await host.QueueDepthAsync(ct);
        var aloneRate = (aloneStart.Sum() - aloneEnd.Sum()) / alone.Elapsed.TotalSeconds;
        Report.Line($"fairness.big_drain_alone: {aloneRate:F0}/s over {alone.Elapsed.TotalSeconds:F1} s (queued {aloneStart.Sum():N0} -> {aloneEnd.Sum():N0}, normal lane {aloneEnd[NormalLane]:N0})");

        // Shared: the small tenant sends into the same lane while the backlog drains.
        var issued = new Dictionary<string, DateTimeOffset>(SmallSends);
        var posts = new List<Task<int>>(SmallSends);
        var sharedStart = await host.QueueDepthAsync(ct);
        var shared = Stopwatch.StartNew();
        for (var i = 0; i < SmallSends; i++)
        {
            var due = Interval * i;
            if (shared.Elapsed < due)
            {
                await Task.Delay(due - shared.Elapsed, ct);
            }

            var chatId = Payloads.ChatId(8, i);
            issued[chatId] = time.GetUtcNow();
            posts.Add(ClosedLoop.PostAsync(smallHttp, "/v1/notifications", Encoding.UTF8.GetBytes(Payloads.Telegram(chatId, type: "account.balance", priority: "normal")), 1, ct));
        }

        // The mailbox keeps only the newest messages: collect while the backlog flows.
        var received = new Dictionary<string, DateTimeOffset>(SmallSends);
        while (received.Count < SmallSends && shared.Elapsed < TimeSpan.FromSeconds(120))
        {
            foreach (var message in mailbox.Find("telegram"))
            {
                if (issued.ContainsKey(message.To))
                {
                    received.TryAdd(message.To, message.Time);
                }
            }

            if (received.Count < SmallSends)
            {
                await Task.Delay(100, ct);
            }
        }

        var sharedEnd = await host.QueueDepthAsync(ct);
        var sharedElapsed = shared.Elapsed.TotalSeconds;
        var failed = (await Task.WhenAll(posts)).Count(n => n < 0);
        // depth change = - big drained + small posted - small done (those the provider saw).
        var bigDrained = sharedStart.Sum() - sharedEnd.Sum() + (SmallSends - failed) - received.Count;
        var sharedRate = bigDrained / sharedElapsed;
        var latency = new Percentiles(received.Select(r => (r.Value - issued[r.Key]).TotalMilliseconds));
        Report.Line($"fairness.small_accept_to_provider: p50 {Report.Ms(latency.At(50))}  p99 {Report.Ms(latency.At(99))}  max {Report.Ms(latency.Max)}  ({latency.Count}/{SmallSends} seen by the sandbox, one every {Interval.TotalMilliseconds:F0} ms, {failed} POSTs failed)");
        Report.Line($"fairness.big_drain_shared: {sharedRate:F0}/s over {sharedElapsed:F1} s (alone {aloneRate:F0}/s; queued at the end {sharedEnd.Sum():N0})");
        report.Add(new Figure("fairness small p99 behind backlog", latency.At(99), "ms", 1000, HigherIsBetter: false, Note: $"{SmallSends - latency.Count} missing"));
        report.Add(new Figure("fairness big drain alone", aloneRate, "/s", null, HigherIsBetter: true));
        report.Add(new Figure("fairness big drain shared", sharedRate, "/s", null, HigherIsBetter: true));
    }

    private static async Task InsertBacklogAsync(HttpClient http, BenchOptions options, CancellationToken ct)
    {
        // A few distinct bodies reused: no Idempotency-Key, so every item is a new notification.
        var bodies = Enumerable.Range(0, Posters)
            .Select(p => Payloads.Batch(0, BatchSize, i => Payloads.Telegram(Payloads.ChatId(50 + p, i), type: "marketing.blast", priority: "normal")))
            .ToArray();
        var batches = (options.Backlog + BatchSize - 1) / BatchSize;
        var next = -1;
        var failed = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Posters).Select(p => Task.Run(
            async () =>
            {
                while (Interlocked.Increment(ref next) < batches)
                {
                    if (await ClosedLoop.PostAsync(http, "/v1/notifications/batch", bodies[p], BatchSize, ct) < 0)
                    {
                        Interlocked.Increment(ref failed);
                    }
                }
            },
            ct)));
        var inserted = (long)(batches - failed) * BatchSize;
        Report.Line($"fairness.backlog_insert: {inserted:N0} normal queued in {clock.Elapsed.TotalSeconds:F1} s (worker draining meanwhile; {failed} batch POSTs failed)");
    }
}
