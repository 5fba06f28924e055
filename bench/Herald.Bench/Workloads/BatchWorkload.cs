namespace Herald.Bench.Workloads;

/// <summary>(b) <c>POST /v1/notifications/batch</c> with 1,000 items, 4 clients: durable notifications per second.</summary>
public static class BatchWorkload
{
    public const int Clients = 4;
    public const int Items = 1_000;

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        Report.Line("");
        Report.Line("== batch: POST /v1/notifications/batch ==");
        var (_, http) = await host.CreateTenantAsync("Bench batch", ct);
        using var _ = http;
        var bodies = Enumerable.Range(0, Clients).Select(c => Payloads.Batch(0, Items, i => Payloads.Telegram(Payloads.ChatId(20 + c, i)))).ToArray();
        Task<int> Post(int client, CancellationToken token) => ClosedLoop.PostAsync(http, "/v1/notifications/batch", bodies[client], Items, token);

        await ClosedLoop.RunAsync(Clients, options.Warmup, Post, ct);
        // The cost window starts once the warm-up (JIT, pools, prepared statements) is delivered, so it holds only the run.
        await host.DrainAsync(TimeSpan.FromMinutes(options.Quick ? 1 : 10), ct);
        var costBefore = await host.Cost.TakeAsync(ct);
        var r = await ClosedLoop.RunAsync(Clients, options.Duration, Post, ct);
        Report.Line($"ingest.batch: {r.ItemsPerSecond:F0} notifications/s  ({r.OperationsPerSecond:F1} req/s, p50 {Report.Ms(r.Latency.At(50))}, p99 {Report.Ms(r.Latency.At(99))}; {Clients} clients x {Items} items, {options.Duration.TotalSeconds:F0} s, errors {r.Errors})");
        Report.Info("ran meanwhile: delivery worker draining the queued notifications to the telegram sandbox");
        if (r.FirstError is not null)
        {
            Report.Info("first error: " + r.FirstError);
        }

        await IngestWorkload.CostAfterDrainAsync(host, options, "ingest.batch", costBefore, r.Items, ct);
        report.Add(new Figure("ingest.batch notifications/s", r.ItemsPerSecond, "n/s", 40_000, HigherIsBetter: true));
    }
}
