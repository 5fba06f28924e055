using System.Diagnostics;

namespace Herald.Bench.Workloads;

/// <summary>
/// (d) A large low-priority backlog is queued (batch API, with the worker draining it meanwhile), then 200
/// critical notifications are sent one every 20 ms. Latency = the time the sandbox mailbox recorded the message
/// minus the time its POST was issued; both read from the same process clock (TimeProvider.System).
/// </summary>
public static class CriticalWorkload
{
    private const int Criticals = 200;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private const int BatchSize = 1_000;
    private const int Posters = 4;

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        Report.Line("");
        Report.Line($"== critical: {Criticals} critical notifications behind {options.Backlog:N0} queued low-priority ==");
        if (options.Backlog != BenchOptions.DefaultBacklog && !options.Quick)
        {
            Report.Info($"backlog set to {options.Backlog:N0} by --backlog (SPEC §5 names 1,000,000)");
        }

        var (_, http) = await host.CreateTenantAsync("Bench critical", ct);
        using var _ = http;

        await InsertBacklogAsync(http, options, "critical", ct);

        var depthAtStart = await host.QueueDepthAsync(ct);
        Report.Info($"queued when the criticals start: {depthAtStart.Sum():N0} (low lane {depthAtStart[3]:N0})");

        // The first stream meets a host that has never handled a critical; the second, once the pause has lifted, one
        // that has (see SplitCriticalWorkload).
        var first = await MeasureStreamAsync(host, http, 9, "critical", ct);
        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        var warm = await MeasureStreamAsync(host, http, 11, "critical.warm", ct);
        report.Add(new Figure("critical p99 behind backlog, first stream", first.Latency.At(99), "ms", 50, HigherIsBetter: false, Note: $"{Criticals - first.Latency.Count} missing"));
        report.Add(new Figure("critical p99 behind backlog, second stream", warm.Latency.At(99), "ms", 50, HigherIsBetter: false, Note: $"{Criticals - warm.Latency.Count} missing"));
        var depthAtEnd = await host.QueueDepthAsync(ct);
        Report.Info($"queued at the end: {depthAtEnd.Sum():N0} (low lane {depthAtEnd[3]:N0})");

        var rss = Report.RssMb();
        Report.Line($"critical.rss: {rss:F0} MB  (VmRSS of the bench process: Herald host + load generator)");
        report.Add(new Figure("rss after critical", rss, "MB", 300, HigherIsBetter: false));
        if (await host.QueueTableMbAsync(ct) is { } mb)
        {
            Report.Line($"critical.queue_table: {mb:F1} MB  (pg_total_relation_size('queue') with {depthAtEnd.Sum():N0} queued)");
        }
    }

    /// <summary>One stream of criticals, printed as <c>{label}.*</c>.</summary>
    private static async Task<CriticalProbe.Result> MeasureStreamAsync(BenchHost host, HttpClient http, int prefix, string label, CancellationToken ct)
    {
        var probe = await CriticalProbe.MeasureAsync(host, http, prefix, Criticals, Interval, ct);
        Report.Line($"{label}.accept_to_provider: p50 {Report.Ms(probe.Latency.At(50))}  p99 {Report.Ms(probe.Latency.At(99))}  max {Report.Ms(probe.Latency.Max)}  ({probe.Latency.Count}/{Criticals} seen by the sandbox, one every {Interval.TotalMilliseconds:F0} ms)");
        Report.Line($"{label}.slowest: {probe.Slowest}");
        Report.Line($"{label}.post_202: p50 {Report.Ms(probe.Accept.At(50))}  p99 {Report.Ms(probe.Accept.At(99))}  ({probe.FailedPosts} failed)");
        return probe;
    }

    /// <summary>Queues <see cref="BenchOptions.Backlog"/> low-priority notifications through the batch API (whatever
    /// drains meanwhile drains); prints <c>{label}.backlog_insert</c>.</summary>
    internal static async Task InsertBacklogAsync(HttpClient http, BenchOptions options, string label, CancellationToken ct)
    {
        // A few distinct bodies reused: no Idempotency-Key, so every item is a new notification.
        var bodies = Enumerable.Range(0, Posters)
            .Select(p => Payloads.Batch(0, BatchSize, i => Payloads.Telegram(Payloads.ChatId(40 + p, i), type: "service.news", priority: "low")))
            .ToArray();
        var batches = (options.Backlog + BatchSize - 1) / BatchSize;
        var next = -1;
        var failed = 0;
        var clock = Stopwatch.StartNew();
        var posters = Enumerable.Range(0, Posters).Select(p => Task.Run(
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
            ct)).ToArray();
        await Task.WhenAll(posters);
        var inserted = (long)(batches - failed) * BatchSize;
        Report.Line($"{label}.backlog_insert: {inserted:N0} low-priority queued in {clock.Elapsed.TotalSeconds:F1} s ({inserted / clock.Elapsed.TotalSeconds:F0}/s via batch API, worker draining meanwhile; {failed} batch POSTs failed)");
    }
}
