using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.Core.Notifications;
using Npgsql;

namespace Herald.Bench.Workloads;

/// <summary>
/// (d) as a bank deploys it: the critical notifications' accept→provider latency behind a 1,000,000-item low-priority
/// backlog, with the api, one worker and the provider sandbox each in its own process (the in-process figure shares one
/// thread pool and one heap between the POSTs, the drain and the load generator). The backlog is queued through the
/// api while the worker drains it; then 200 criticals go one every 20 ms. The sandbox process stamps each message when
/// it arrives; the bench reads those stamps afterwards, so it adds no load while measuring.
/// </summary>
public static class SplitCriticalWorkload
{
    private const int Criticals = 200;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        Report.Line("");
        Report.Line($"== split-critical: {Criticals} critical notifications behind {options.Backlog:N0} queued low-priority; api, worker and sandbox apart ==");
        var database = await host.CreateDatabaseAsync("herald_split_critical", ct);
        if (database is null)
        {
            Report.Info("split-critical: PostgreSQL only; skipped");
            return;
        }

        await using var sandbox = await ServerProcess.StartSandboxAsync(ct);
        var settings = SplitWorkload.Settings(sandbox);
        await using var api = await ServerProcess.StartHeraldAsync("api", database, host.SecretsKey, settings, ct);
        await using var worker = await ServerProcess.StartHeraldAsync("worker", database, host.SecretsKey, settings, ct);
        var (_, http) = await SplitWorkload.CreateTenantAsync(host, api, sandbox, ct);
        using var _ = http;
        using var mailbox = new HttpClient { BaseAddress = new Uri(sandbox.BaseUrl) };
        Report.Info($"api pid {api.Pid}, worker pid {worker.Pid}, sandbox pid {sandbox.Pid}");

        await CriticalWorkload.InsertBacklogAsync(http, options, "split_critical", ct);
        var depthAtStart = await SplitWorkload.QueueDepthAsync(database, ct);
        Report.Info($"queued when the criticals start: {depthAtStart:N0}");

        // Two streams: the first meets processes that have never handled a critical (their single-POST path, the
        // critical lane and the critical loop run for the first time, at the JIT's first tier); the second, once the
        // pause has lifted and the lows drain at full speed again, is what a node that has been up a while does.
        var first = await MeasureStreamAsync(database, mailbox, http, 19, "split_critical", depthAtStart, ct);
        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        var warm = await MeasureStreamAsync(database, mailbox, http, 18, "split_critical.warm", await SplitWorkload.QueueDepthAsync(database, ct), ct);
        report.Add(new Figure("split critical p99 behind backlog, first stream", first.Latency.At(99), "ms", 50, HigherIsBetter: false, Note: $"{Criticals - first.Latency.Count} missing"));
        report.Add(new Figure("split critical p99 behind backlog, second stream", warm.Latency.At(99), "ms", 50, HigherIsBetter: false, Note: $"{Criticals - warm.Latency.Count} missing"));
        Report.Line($"split_critical.rss: api {api.Memory().Rss:F0} MB (peak {api.Memory().Peak:F0}), worker {worker.Memory().Rss:F0} MB (peak {worker.Memory().Peak:F0})");
    }

    /// <summary>One stream of <see cref="Criticals"/>, printed as <c>{label}.*</c>: latency, the lows' drain while it
    /// went (from the first POST to the last one's answer), the five slowest, the POSTs and the stages.</summary>
    private static async Task<CriticalProbe.Result> MeasureStreamAsync(
        string database, HttpClient mailbox, HttpClient http, int prefix, string label, long depthAtStart, CancellationToken ct)
    {
        var started = TimeProvider.System.GetUtcNow();
        var probing = Stopwatch.StartNew();
        var (depthAfterPosts, postsTook) = (0L, TimeSpan.Zero);
        var probe = await CriticalProbe.MeasureAsync(http, prefix, Criticals, Interval, async (issued, received) =>
        {
            (depthAfterPosts, postsTook) = (await SplitWorkload.QueueDepthAsync(database, ct), probing.Elapsed);
            await CollectAsync(mailbox, issued, received, ct);
        }, ct);
        var depthAtEnd = await SplitWorkload.QueueDepthAsync(database, ct);
        Report.Line($"{label}.accept_to_provider: p50 {Report.Ms(probe.Latency.At(50))}  p99 {Report.Ms(probe.Latency.At(99))}  max {Report.Ms(probe.Latency.Max)}  ({probe.Latency.Count}/{Criticals} seen by the sandbox, one every {Interval.TotalMilliseconds:F0} ms; {depthAtStart:N0} queued before, {depthAtEnd:N0} after)");
        Report.Line($"{label}.low_drain: {(depthAtStart - depthAfterPosts) / postsTook.TotalSeconds:N0}/s while the criticals went (queue {depthAtStart:N0} → {depthAfterPosts:N0} in {postsTook.TotalSeconds:F1} s)");
        Report.Line($"{label}.slowest: {probe.Slowest}");
        Report.Line($"{label}.post_202: p50 {Report.Ms(probe.Accept.At(50))}  p99 {Report.Ms(probe.Accept.At(99))}  ({probe.FailedPosts} failed)");
        await PrintStagesAsync(database, label, started, ct);
        return probe;
    }

    /// <summary>Where a critical's time went, from what Herald stored: accepted (the notification's creation) → claimed
    /// by the worker (its attempt begun) → the provider answered (the attempt's sent time).</summary>
    private static async Task PrintStagesAsync(string database, string label, DateTimeOffset since, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(database);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(
            $"""
            SELECT extract(epoch FROM a.created_at - n.created_at) * 1000, extract(epoch FROM a.sent_at - a.created_at) * 1000
            FROM notifications n JOIN attempts a ON a.notification_id = n.id
            WHERE n.priority = {(short)Priority.Critical} AND a.sent_at IS NOT NULL AND n.created_at >= @since
            """,
            conn);
        cmd.Parameters.AddWithValue("since", since);
        var (claim, send) = (new List<double>(), new List<double>());
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                claim.Add((double)reader.GetDecimal(0));
                send.Add((double)reader.GetDecimal(1));
            }
        }

        var (toClaim, toSent) = (new Percentiles(claim), new Percentiles(send));
        Report.Line($"{label}.stages: accepted → claimed p50 {Report.Ms(toClaim.At(50))} p99 {Report.Ms(toClaim.At(99))}; claimed → provider answered p50 {Report.Ms(toSent.At(50))} p99 {Report.Ms(toSent.At(99))}  ({claim.Count} attempts)");
    }

    /// <summary>After the last POST (and a second for it to arrive), each critical's arrival time as the sandbox process
    /// stamped it: its mailbox keeps the newest 100,000 messages, more than the drain delivers meanwhile.</summary>
    private static async Task CollectAsync(
        HttpClient mailbox, IReadOnlyDictionary<string, DateTimeOffset> issued, Dictionary<string, DateTimeOffset> received, CancellationToken ct)
    {
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        foreach (var chatId in issued.Keys)
        {
            var messages = await mailbox.GetFromJsonAsync<JsonArray>($"/sandbox/messages?channel=telegram&to={chatId}", ct);
            if (messages is [{ } message, ..] && message["time"]?.GetValue<DateTimeOffset>() is { } time)
            {
                received[chatId] = time;
            }
        }
    }
}
