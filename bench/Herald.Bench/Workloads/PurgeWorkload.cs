using System.Diagnostics;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Server.Retention;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Herald.Bench.Workloads;

/// <summary>
/// (issue #17) The retention purge under way while critical notifications flow: N final notifications 30 days old are
/// stored for one tenant (through the stores, 1,000 a transaction), critical latency is measured without a purge,
/// then the tenant's retention drops to 1 day and the purge (RetentionPurge, the delivering nodes' job, with its
/// default batch size and pause) deletes them while the same critical probe runs again. Prints both latencies, the
/// purge's rate, and the sizes and dead tuples of the tables it touches before, after, and after a VACUUM.
/// </summary>
public static class PurgeWorkload
{
    private const int Criticals = 200;
    private const int SeedBatch = 1_000;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private static readonly string[] Tables = ["notifications", "attempts", "queue"];

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        var n = options.Quick ? 50_000 : 1_000_000;
        Report.Line("");
        Report.Line($"== purge: {n:N0} old final notifications deleted by the retention purge while criticals flow ==");
        var (tenantId, http) = await host.CreateTenantAsync("Bench purge", ct);
        using var _ = http;
        var (_, probeHttp) = await host.CreateTenantAsync("Bench purge probe", ct);
        using var __ = probeHttp;

        var seeded = await SeedAsync(host, tenantId, n, ct);
        Report.Line($"purge.seed: {n:N0} final notifications 30 days old stored in {seeded.TotalSeconds:F1} s");
        await PrintTablesAsync(host, "before", ct);

        var quiet = await CriticalProbe.MeasureAsync(host, probeHttp, 61, Criticals, Interval, ct);
        Report.Line($"purge.critical_without_purge: p50 {Report.Ms(quiet.Latency.At(50))}  p99 {Report.Ms(quiet.Latency.At(99))}  max {Report.Ms(quiet.Latency.Max)}  ({quiet.Latency.Count}/{Criticals})");

        await host.Services.GetRequiredService<IRetentionStore>().SetAsync(tenantId, 1, ct);
        var clock = Stopwatch.StartNew();
        var purge = Task.Run(() => host.Services.GetRequiredService<RetentionPurge>().PurgeAsync(ct), ct);
        var during = await CriticalProbe.MeasureAsync(host, probeHttp, 62, Criticals, Interval, ct);
        var purgedWhileProbing = !purge.IsCompleted;
        var purged = await purge;
        var took = clock.Elapsed;
        Report.Line($"purge.critical_while_purging: p50 {Report.Ms(during.Latency.At(50))}  p99 {Report.Ms(during.Latency.At(99))}  max {Report.Ms(during.Latency.Max)}  ({during.Latency.Count}/{Criticals}; the purge {(purgedWhileProbing ? "ran throughout" : "ended before the probe")})");
        Report.Line($"purge.rate: {purged.Notifications:N0} notifications (+{purged.Attempts:N0} attempts) in {took.TotalSeconds:F1} s ({purged.Notifications / took.TotalSeconds:F0}/s; batches of 1,000 with a 50 ms pause)");
        await PrintTablesAsync(host, "after", ct);
        if (host.IsPostgres)
        {
            await using var conn = new NpgsqlConnection(host.PostgresDatabase);
            await conn.OpenAsync(ct);
            await using var vacuum = new NpgsqlCommand("VACUUM (ANALYZE) notifications, attempts, queue", conn) { CommandTimeout = 600 };
            await vacuum.ExecuteNonQueryAsync(ct);
            await PrintTablesAsync(host, "after VACUUM", ct);
        }

        report.Add(new Figure("critical p99 while purging", during.Latency.At(99), "ms", 50, HigherIsBetter: false, Note: $"without purge {quiet.Latency.At(99):F0} ms"));
    }

    /// <summary>Stores <paramref name="n"/> notifications created 30 days ago and marks them delivered.</summary>
    private static async Task<TimeSpan> SeedAsync(BenchHost host, Guid tenantId, int n, CancellationToken ct)
    {
        var notifications = host.Services.GetRequiredService<INotificationStore>();
        var delivery = host.Services.GetRequiredService<IDeliveryStore>();
        var route = new Route(Priority.Normal, [new RouteStep(Channel.Telegram, WaitFor.Sent, TimeSpan.FromSeconds(30))]);
        var old = TimeProvider.System.GetUtcNow() - TimeSpan.FromDays(30);
        var clock = Stopwatch.StartNew();
        for (var start = 0; start < n; start += SeedBatch)
        {
            var count = Math.Min(SeedBatch, n - start);
            var at = old.AddMilliseconds(start);
            var items = Enumerable.Range(start, count).Select(i => new PreparedNotification(
                Guid.CreateVersion7(old.AddMilliseconds(i)),
                new NewNotification(tenantId, null, "card.transaction", null, new Contacts(TelegramChatId: Payloads.ChatId(60, i)), """{"text":"You paid 12.50 EUR"}""", null, null, null, null, null),
                route) { NotBefore = TimeProvider.System.GetUtcNow().AddDays(1) }).ToList(); // never due: the worker leaves them alone
            var accepted = await notifications.AcceptAsync(items, at, ct);
            await delivery.ApplyAsync(
                [.. accepted.Select(a => new DeliveryUpdate(a.Id, 0, new Transition(NotificationStatus.Delivered, DeliveryProgress.Start, Channel.Telegram, QueueAction.Remove), []))],
                at, ct);
        }

        return clock.Elapsed;
    }

    private static async Task PrintTablesAsync(BenchHost host, string when, CancellationToken ct)
    {
        if (!host.IsPostgres)
        {
            return;
        }

        await using var conn = new NpgsqlConnection(host.PostgresDatabase);
        await conn.OpenAsync(ct);
        var parts = new List<string>();
        foreach (var table in Tables)
        {
            await using var cmd = new NpgsqlCommand(
                """
                SELECT pg_relation_size(c.oid), pg_indexes_size(c.oid), coalesce(s.n_live_tup, 0), coalesce(s.n_dead_tup, 0)
                FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
                WHERE c.relname = @table AND c.relkind = 'r'
                """, conn);
            cmd.Parameters.AddWithValue("table", table);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct))
            {
                parts.Add($"{table} {r.GetInt64(0) / 1048576.0:F0} MB + indexes {r.GetInt64(1) / 1048576.0:F0} MB, {r.GetInt64(2):N0} live / {r.GetInt64(3):N0} dead");
            }
        }

        Report.Line($"purge.tables {when}: {string.Join("; ", parts)}");
    }
}
