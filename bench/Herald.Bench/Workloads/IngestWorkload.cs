using System.Text;

namespace Herald.Bench.Workloads;

/// <summary>
/// (a) Single <c>POST /v1/notifications</c>, 64 clients: durable accepts per second and their latency.
/// Each 202 means the notification is committed (group commit in IngestService). The delivery worker runs
/// meanwhile and delivers them to the Telegram sandbox, so the figure includes that competition for CPU.
/// </summary>
public static class IngestWorkload
{
    public const int Clients = 64;

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        Report.Line("");
        Report.Line("== ingest: single POST /v1/notifications ==");
        var (_, http) = await host.CreateTenantAsync("Bench ingest", ct);
        using var _ = http;
        // Distinct chat ids per client (no Idempotency-Key: every POST creates a notification).
        var bodies = Enumerable.Range(0, Clients).Select(c => Encoding.UTF8.GetBytes(Payloads.Telegram(Payloads.ChatId(1, c)))).ToArray();
        Task<int> Post(int client, CancellationToken token) => ClosedLoop.PostAsync(http, "/v1/notifications", bodies[client], 1, token);

        await ClosedLoop.RunAsync(Clients, options.Warmup, Post, ct);
        // The cost window starts once the warm-up (JIT, pools, prepared statements) is delivered, so it holds only the run.
        await host.DrainAsync(TimeSpan.FromMinutes(options.Quick ? 1 : 10), ct);
        var costBefore = await host.Cost.TakeAsync(ct);
        var r = await ClosedLoop.RunAsync(Clients, options.Duration, Post, ct);
        Report.Line($"ingest.single: {r.OperationsPerSecond:F0} req/s  p50 {Report.Ms(r.Latency.At(50))}  p99 {Report.Ms(r.Latency.At(99))}  max {Report.Ms(r.Latency.Max)}  ({Clients} clients, {options.Duration.TotalSeconds:F0} s, errors {r.Errors})");
        Report.Info("ran meanwhile: delivery worker (telegram sandbox, 0 ms latency); load generator in the same process");
        if (r.FirstError is not null)
        {
            Report.Info("first error: " + r.FirstError);
        }

        await CostAfterDrainAsync(host, options, "ingest.single", costBefore, r.Items, ct);
        report.Add(new Figure("ingest.single req/s", r.OperationsPerSecond, "req/s", 5_000, HigherIsBetter: true));
        report.Add(new Figure("ingest.single p99", r.Latency.At(99), "ms", 50, HigherIsBetter: false));
    }

    /// <summary>Waits until what the workload accepted is delivered, then prints its whole cost (accept and delivery)
    /// per notification.</summary>
    public static async Task CostAfterDrainAsync(BenchHost host, BenchOptions options, string name, CostMeter.Snapshot before, long notifications, CancellationToken ct)
    {
        var (elapsed, left) = await host.DrainAsync(options.Quick ? TimeSpan.FromSeconds(60) : TimeSpan.FromMinutes(10), ct);
        var after = await host.Cost.TakeAsync(ct);
        Report.Info($"{name}: delivered what it accepted {elapsed.TotalSeconds:F1} s after the run ({left:N0} still queued); cost below = accept + delivery");
        CostMeter.Print(name, before, after, notifications - left);
    }
}
