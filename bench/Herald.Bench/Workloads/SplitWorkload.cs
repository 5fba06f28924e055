using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.Core.Notifications;
using Npgsql;

namespace Herald.Bench.Workloads;

/// <summary>
/// Issue #20: the deployment banks run. Herald as separate processes on one PostgreSQL: an <c>api</c> process, one and
/// then two <c>worker</c> processes, the provider sandbox in a process of its own, and the load generator alone in the
/// bench process. On a database of their own (the bench host's worker must not claim their work). Prints the single
/// POST and the Telegram e2e figures, the CPU per notification of each process, and each process's resident memory.
/// Opt-in: <c>--only split</c> (PostgreSQL only).
/// </summary>
public static class SplitWorkload
{
    private const int BatchSize = 1_000;
    private const int Posters = 4;

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        Report.Line("");
        Report.Line("== split: api and worker processes apart (Herald.Server api + worker, sandbox and load generator in their own processes) ==");
        var database = await host.CreateDatabaseAsync("herald_split", ct);
        if (database is null)
        {
            Report.Info("split: PostgreSQL only (SQLite has one writer per file); skipped");
            return;
        }

        await using var sandbox = await ServerProcess.StartSandboxAsync(ct);
        var settings = Settings(sandbox);
        await using var api = await ServerProcess.StartHeraldAsync("api", database, host.SecretsKey, settings, ct);
        var workers = new List<ServerProcess>();
        try
        {
            var (tenantId, http) = await CreateTenantAsync(host, api, sandbox, ct);
            using var _ = http;
            var processes = new List<ServerProcess> { api, sandbox };
            Report.Info($"api pid {api.Pid}, sandbox pid {sandbox.Pid}; server GC as shipped; no worker yet");

            // The peers' rig measures enqueue with no worker running and then the drain of what was enqueued: the same
            // shape here, first the batch enqueue, then single POSTs, then one worker draining both.
            var n = options.EndToEndCount;
            // Warm-up (JIT, pools, prepared statements): its items are drained with the rest below.
            await PostBatchesAsync(http, 2 * BatchSize, i => Payloads.Telegram(Payloads.ChatId(4, i)), ct);
            var before = await SnapshotAsync(host, processes, ct);
            var (enqueued, failed) = await PostBatchesAsync(http, n, i => Payloads.Telegram(Payloads.ChatId(5, i)), ct);
            var after = await SnapshotAsync(host, processes, ct);
            Report.Line($"split.enqueue.batch: {n / enqueued.TotalSeconds:F0} notifications/s  ({n:N0} in {enqueued.TotalSeconds:F2} s, {Posters} posters x {BatchSize} items, no worker running{(failed > 0 ? $", {failed} batch POSTs failed" : "")})");
            PrintCost("split.enqueue.batch", before, after, n);
            report.Add(new Figure("split.enqueue.batch n/s (api process, no worker)", n / enqueued.TotalSeconds, "n/s", 60_000, HigherIsBetter: true));

            // The same again from the same process: the first round pays for the JIT's tiers (a fresh process, as the
            // peers' rig measures its own), this one is what an api that has run a while does.
            before = await SnapshotAsync(host, processes, ct);
            (enqueued, failed) = await PostBatchesAsync(http, n, i => Payloads.Telegram(Payloads.ChatId(7, i)), ct);
            after = await SnapshotAsync(host, processes, ct);
            Report.Line($"split.enqueue.batch.warm: {n / enqueued.TotalSeconds:F0} notifications/s  (the next {n:N0} in {enqueued.TotalSeconds:F2} s, same api process{(failed > 0 ? $", {failed} batch POSTs failed" : "")})");
            PrintCost("split.enqueue.batch.warm", before, after, n);
            report.Add(new Figure("split.enqueue.batch.warm n/s (second round)", n / enqueued.TotalSeconds, "n/s", 60_000, HigherIsBetter: true));

            var bodies = Enumerable.Range(0, IngestWorkload.Clients).Select(c => Encoding.UTF8.GetBytes(Payloads.Telegram(Payloads.ChatId(6, c)))).ToArray();
            Task<int> Post(int client, CancellationToken token) => ClosedLoop.PostAsync(http, "/v1/notifications", bodies[client], 1, token);
            await ClosedLoop.RunAsync(IngestWorkload.Clients, options.Warmup, Post, ct);
            before = await SnapshotAsync(host, processes, ct);
            var single = await ClosedLoop.RunAsync(IngestWorkload.Clients, options.Duration, Post, ct);
            after = await SnapshotAsync(host, processes, ct);
            Report.Line($"split.enqueue.single: {single.OperationsPerSecond:F0} req/s  p50 {Report.Ms(single.Latency.At(50))}  p99 {Report.Ms(single.Latency.At(99))}  max {Report.Ms(single.Latency.Max)}  ({IngestWorkload.Clients} clients, {options.Duration.TotalSeconds:F0} s, errors {single.Errors}; no worker running)");
            PrintCost("split.enqueue.single", before, after, single.Items);
            report.Add(new Figure("split.enqueue.single req/s (no worker)", single.OperationsPerSecond, "req/s", 5_000, HigherIsBetter: true));
            report.Add(new Figure("split.enqueue.single p99", single.Latency.At(99), "ms", 50, HigherIsBetter: false));

            for (var count = 1; count <= 2; count++)
            {
                workers.Add(await ServerProcess.StartHeraldAsync("worker", database, host.SecretsKey, settings, ct));
                processes.Insert(processes.Count - 1, workers[^1]);
                Report.Info($"worker {count} pid {workers[^1].Pid}");
                if (count == 1)
                {
                    // The drain of everything enqueued above, timed from the worker's readiness (what it delivered
                    // while starting is left out of the count as well as of the time).
                    var queued = await QueueDepthAsync(database, ct);
                    var drainBefore = await SnapshotAsync(host, processes, ct);
                    var clock = Stopwatch.StartNew();
                    await DrainAsync(database, options, ct);
                    var drained = clock.Elapsed;
                    var drainAfter = await SnapshotAsync(host, processes, ct);
                    Report.Line($"split.drain.telegram.1w: {queued / drained.TotalSeconds:F0} delivered/s  ({queued:N0} queued in {drained.TotalSeconds:F2} s; 1 worker process, nothing enqueued meanwhile)");
                    PrintCost("split.drain.telegram.1w", drainBefore, drainAfter, queued);
                    report.Add(new Figure("split.drain.telegram 1 worker delivered/s", queued / drained.TotalSeconds, "n/s", 10_000, HigherIsBetter: true));
                }

                await EndToEndAsync(host, database, tenantId, http, processes, count, options, report, ct);
            }

            var memory = string.Join(", ", processes.Select(p => $"{p.Name} {p.Memory().Rss:F0} MB (peak {p.Memory().Peak:F0})"));
            Report.Line($"split.rss: {memory}; load generator (bench process, incl. its idle in-process host) {Report.RssMb():F0} MB");
            foreach (var p in processes.Where(p => p.Name != "sandbox"))
            {
                report.Add(new Figure($"split.rss peak {p.Name} {p.Pid}", p.Memory().Peak, "MB", 300, HigherIsBetter: false));
            }
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }

    /// <summary>The api's and workers' settings: migrations on start, the bench's admin key, the sandbox process allowed.</summary>
    internal static Dictionary<string, string> Settings(ServerProcess sandbox) => new()
    {
        ["Herald:AdminKey"] = BenchHost.AdminKey,
        ["Herald:MigrateOnStart"] = "true",
        // The sandbox process is the one internal destination these nodes may reach, as an operator allows a relay.
        ["Herald:Egress:Allow:0"] = $"127.0.0.1:{new Uri(sandbox.BaseUrl).Port}",
    };

    /// <summary>Posts <paramref name="n"/> items in batches of <see cref="BatchSize"/> from <see cref="Posters"/>
    /// concurrent posters; answers the time it took and the batch POSTs that failed.</summary>
    private static async Task<(TimeSpan Elapsed, int Failed)> PostBatchesAsync(HttpClient http, int n, Func<int, string> item, CancellationToken ct)
    {
        var bodies = Enumerable.Range(0, (n + BatchSize - 1) / BatchSize)
            .Select(b => Payloads.Batch(b * BatchSize, Math.Min(BatchSize, n - (b * BatchSize)), item))
            .ToArray();
        var clock = Stopwatch.StartNew();
        var next = -1;
        var failed = 0;
        await Task.WhenAll(Enumerable.Range(0, Posters).Select(_ => Task.Run(
            async () =>
            {
                int index;
                while ((index = Interlocked.Increment(ref next)) < bodies.Length)
                {
                    if (await ClosedLoop.PostAsync(http, "/v1/notifications/batch", bodies[index], Math.Min(BatchSize, n - (index * BatchSize)), ct) < 0)
                    {
                        Interlocked.Increment(ref failed);
                    }
                }
            },
            ct)));
        return (clock.Elapsed, failed);
    }

    private static async Task EndToEndAsync(
        BenchHost host, string database, Guid tenantId, HttpClient http, IReadOnlyList<ServerProcess> processes, int workers,
        BenchOptions options, Report report, CancellationToken ct)
    {
        var n = options.EndToEndCount;
        var deliveredBefore = await DeliveredAsync(database, tenantId, ct);
        var before = await SnapshotAsync(host, processes, ct);
        var clock = Stopwatch.StartNew();
        var (ingested, failedPosts) = await PostBatchesAsync(http, n, i => Payloads.Telegram(Payloads.ChatId(6 + workers, i)), ct);
        await DrainAsync(database, options, ct);
        var done = clock.Elapsed;
        var after = await SnapshotAsync(host, processes, ct);
        var delivered = await DeliveredAsync(database, tenantId, ct) - deliveredBefore;
        var rate = n / done.TotalSeconds;
        Report.Line($"split.e2e.telegram.{workers}w: {rate:F0} delivered/s  ({n:N0} in {done.TotalSeconds:F2} s; ingest finished at {ingested.TotalSeconds:F2} s; {delivered:N0} delivered{(failedPosts > 0 ? $", {failedPosts} batch POSTs failed" : "")}; {workers} worker process{(workers > 1 ? "es" : "")})");
        PrintCost($"split.e2e.telegram.{workers}w", before, after, n);
        report.Add(new Figure($"split.e2e.telegram {workers} worker(s) delivered/s", rate, "n/s", 10_000, HigherIsBetter: true, Note: $"{n - delivered} not delivered"));
    }

    /// <summary>A tenant, its key and one Telegram account on the sandbox process, over the api process's HTTP API.</summary>
    internal static async Task<(Guid TenantId, HttpClient Client)> CreateTenantAsync(BenchHost host, ServerProcess api, ServerProcess sandbox, CancellationToken ct)
    {
        using var admin = host.Client(BenchHost.AdminKey, api.BaseUrl);
        using var tenant = await admin.PostAsJsonAsync("/v1/admin/tenants", new { name = "Bench split" }, ct);
        tenant.EnsureSuccessStatusCode();
        var tenantId = (await tenant.Content.ReadFromJsonAsync<JsonObject>(ct))!["id"]!.GetValue<Guid>();
        using var key = await admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles = new[] { "send", "read", "admin" } }, ct);
        key.EnsureSuccessStatusCode();
        var client = host.Client((await key.Content.ReadFromJsonAsync<JsonObject>(ct))!["key"]!.GetValue<string>(), api.BaseUrl);
        using var account = await client.PostAsJsonAsync(
            "/v1/providers",
            new
            {
                channel = "telegram",
                kind = "telegram-bot",
                name = "Sandbox Telegram",
                settings = new { baseUrl = sandbox.BaseUrl + "/sandbox/telegram", botToken = "5123456789:bench-split-token", webhookSecret = "bench-split-secret" },
            },
            ct);
        if (!account.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Creating the Telegram account failed: {(int)account.StatusCode} {await account.Content.ReadAsStringAsync(ct)}");
        }

        return (tenantId, client);
    }

    private sealed record Snapshot(IReadOnlyDictionary<string, TimeSpan> Cpu, double PostgresCpuSeconds);

    private static async Task<Snapshot> SnapshotAsync(BenchHost host, IReadOnlyList<ServerProcess> processes, CancellationToken ct) =>
        new(processes.ToDictionary(p => $"{p.Name} {p.Pid}", p => p.Cpu()), (await host.Cost.TakeAsync(ct)).PostgresCpuSeconds);

    private static void PrintCost(string name, Snapshot before, Snapshot after, long notifications)
    {
        if (notifications <= 0)
        {
            return;
        }

        var parts = after.Cpu
            .Where(kv => before.Cpu.ContainsKey(kv.Key))
            .Select(kv => $"{kv.Key} {(kv.Value - before.Cpu[kv.Key]).TotalMicroseconds / notifications:F0} µs")
            .Append($"postgres {(after.PostgresCpuSeconds - before.PostgresCpuSeconds) * 1_000_000 / notifications:F0} µs");
        Report.Line(string.Create(CultureInfo.InvariantCulture, $"cost.{name}: cpu per notification: {string.Join(", ", parts)}  ({notifications:N0} notifications)"));
    }

    internal static async Task<long> QueueDepthAsync(string database, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(database);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM queue", conn);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Waits until the split database's queue is empty.</summary>
    private static async Task DrainAsync(string database, BenchOptions options, CancellationToken ct)
    {
        var limit = Stopwatch.StartNew();
        await using var conn = new NpgsqlConnection(database);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM queue)", conn);
        while (limit.Elapsed < (options.Quick ? TimeSpan.FromMinutes(1) : TimeSpan.FromMinutes(10)))
        {
            if (!(bool)(await cmd.ExecuteScalarAsync(ct))!)
            {
                return;
            }

            await Task.Delay(20, ct);
        }
    }

    private static async Task<long> DeliveredAsync(string database, Guid tenantId, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(database);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM notifications WHERE tenant_id = @t AND status = @s", conn);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("s", (short)NotificationStatus.Delivered);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }
}
