using System.Diagnostics;
using Herald.Core.Notifications;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Bench.Workloads;

/// <summary>
/// (c) N notifications ingested by batch as fast as possible; the clock runs from the first POST until the
/// durable queue is empty (every notification final), then the bench checks that all N are delivered.
/// Telegram is send-only (delivered when the provider accepts); WhatsApp waits for the sandbox's delivered
/// status webhook.
/// </summary>
public static class EndToEndWorkload
{
    private const int BatchSize = 1_000;
    private const int Posters = 4;

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        Report.Line("");
        Report.Line($"== e2e: {options.EndToEndCount:N0} notifications, batch ingest to sandbox delivered ==");
        await DrainLeftoversAsync(host, options, ct);
        var before = await host.QueueTableMbAsync(ct);
        await RunChannelAsync(host, options, report, "telegram", i => Payloads.Telegram(Payloads.ChatId(3, i)), ct);
        await RunChannelAsync(host, options, report, "whatsapp", Payloads.WhatsApp, ct);
        var rss = Report.RssMb();
        Report.Line($"e2e.rss: {rss:F0} MB  (VmRSS of the bench process: Herald host + load generator)");
        report.Add(new Figure("rss after e2e", rss, "MB", 300, HigherIsBetter: false));
        var after = await host.QueueTableMbAsync(ct);
        if (before is { } b && after is { } a)
        {
            Report.Line($"e2e.queue_table: before {b:F1} MB  after {a:F1} MB  (pg_total_relation_size('queue'), queue empty at both points)");
        }
    }

    /// <summary>Earlier workloads leave queued notifications; they are delivered first so they do not count here.</summary>
    private static async Task DrainLeftoversAsync(BenchHost host, BenchOptions options, CancellationToken ct)
    {
        var depth = (await host.QueueDepthAsync(ct)).Sum();
        if (depth == 0)
        {
            return;
        }

        var (elapsed, left) = await host.DrainAsync(options.Quick ? TimeSpan.FromSeconds(30) : TimeSpan.FromMinutes(10), ct);
        Report.Info($"drained {depth - left:N0} notifications left by earlier workloads in {elapsed.TotalSeconds:F1} s ({(depth - left) / elapsed.TotalSeconds:F0}/s, telegram, while idle otherwise); {left:N0} still queued");
    }

    private static async Task RunChannelAsync(
        BenchHost host, BenchOptions options, Report report, string channel, Func<int, string> item, CancellationToken ct)
    {
        var (tenantId, http) = await host.CreateTenantAsync("Bench e2e " + channel, ct);
        using var _ = http;
        var n = options.EndToEndCount;
        var bodies = Enumerable.Range(0, (n + BatchSize - 1) / BatchSize)
            .Select(b => Payloads.Batch(b * BatchSize, Math.Min(BatchSize, n - (b * BatchSize)), item))
            .ToArray();

        var costBefore = await host.Cost.TakeAsync(ct);
        var clock = Stopwatch.StartNew();
        var next = -1;
        var failedPosts = 0;
        var posters = Enumerable.Range(0, Posters).Select(_ => Task.Run(
            async () =>
            {
                int index;
                while ((index = Interlocked.Increment(ref next)) < bodies.Length)
                {
                    var count = Math.Min(BatchSize, n - (index * BatchSize));
                    if (await ClosedLoop.PostAsync(http, "/v1/notifications/batch", bodies[index], count, ct) < 0)
                    {
                        Interlocked.Increment(ref failedPosts);
                    }
                }
            },
            ct)).ToArray();
        await Task.WhenAll(posters);
        var ingested = clock.Elapsed;

        // Final = no queue entry left (a WhatsApp send awaiting its receipt keeps its entry as the receipt timer).
        var limit = TimeSpan.FromMinutes(options.Quick ? 1 : 10);
        while ((await host.QueueDepthAsync(ct)).Sum() > 0 && clock.Elapsed < limit)
        {
            await Task.Delay(20, ct);
        }

        var done = clock.Elapsed;
        var costAfter = await host.Cost.TakeAsync(ct);
        var delivered = await host.CountAsync(tenantId, NotificationStatus.Delivered, ct);
        var rate = n / done.TotalSeconds;
        Report.Line($"e2e.{channel}: {rate:F0} delivered/s  ({n:N0} in {done.TotalSeconds:F2} s; ingest finished at {ingested.TotalSeconds:F2} s; {Posters} posters x {BatchSize} items)");
        Report.Line($"e2e.{channel}.verify: {delivered:N0} delivered, {n - delivered:N0} not delivered{(failedPosts > 0 ? $", {failedPosts} batch POSTs failed" : "")}");
        if (delivered < n)
        {
            var others = new List<string>();
            foreach (var status in Enum.GetValues<NotificationStatus>().Where(s => s != NotificationStatus.Delivered))
            {
                if (await host.CountAsync(tenantId, status, ct) is > 0 and var c)
                {
                    others.Add($"{status.ToString().ToLowerInvariant()} {c:N0}");
                }
            }

            Report.Info($"not delivered by status: {(others.Count > 0 ? string.Join(", ", others) : "none found")}");
            var store = host.Services.GetRequiredService<INotificationStore>();
            foreach (var failed in await store.SearchAsync(tenantId, new NotificationQuery(Status: NotificationStatus.Failed, Limit: 3), ct))
            {
                var attempts = await store.GetAttemptsAsync(tenantId, failed.Id, ct);
                Report.Info($"example {failed.Id}: " + string.Join("; ", attempts.Select(a => $"{a.Channel} {a.State} {a.ErrorCode} {a.Error}")));
            }
        }

        CostMeter.Print($"e2e.{channel}", costBefore, costAfter, n);
        report.Add(new Figure($"e2e.{channel} delivered/s", rate, "n/s", 10_000, HigherIsBetter: true, Note: $"{n - delivered} not delivered"));
    }
}
