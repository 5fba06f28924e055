using System.Diagnostics;
using System.Globalization;
using System.Text;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Server.Reports;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Herald.Bench.Workloads;

/// <summary>
/// (issue #19) The console overview at scale: <c>--backlog</c> final notifications spread evenly over the last 7 days
/// and 5 tenants (delivered, failed, expired, suppressed; some fell back; log-normal accept→delivered latencies), then
/// the overview's counts (NotificationCounting rounds until the week is counted), then <c>GET /v1/stats/overview</c>
/// for one tenant over 1 h, 24 h and 7 d, timed, and <c>EXPLAIN (ANALYZE, BUFFERS)</c> of the queries behind it.
/// One notification is stored through the stores as a template; the rest are copies of its row made by PostgreSQL
/// (INSERT … SELECT over generate_series, 500,000 a statement), with the columns the overview reads set per row, so
/// 10,000,000 seed in minutes. PostgreSQL only.
/// </summary>
public static class OverviewWorkload
{
    private const int Tenants = 5;
    private const int SeedBatch = 500_000;
    private const int Timed = 5;
    private static readonly TimeSpan Week = TimeSpan.FromDays(7);
    private static readonly string[] RangeNames = ["1h", "24h", "7d"];

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        var n = options.Backlog;
        Report.Line("");
        Report.Line($"== overview: {n:N0} final notifications over 7 days and {Tenants} tenants; counts; the overview per range ==");
        if (!host.IsPostgres)
        {
            Report.Line("overview: PostgreSQL only (the 10,000,000 figure is PostgreSQL's); skipped");
            return;
        }

        var tenants = new List<(Guid Id, HttpClient Client)>();
        for (var i = 0; i < Tenants; i++)
        {
            tenants.Add(await host.CreateTenantAsync($"Bench overview {i}", ct));
        }

        try
        {
            var now = TimeProvider.System.GetUtcNow();
            var seeded = await SeedAsync(host, [.. tenants.Select(t => t.Id)], n, now, ct);
            Report.Line($"overview.seed: {n:N0} notifications in {seeded.TotalSeconds:F1} s ({n / seeded.TotalSeconds:N0}/s)");

            var counting = host.Services.GetRequiredService<NotificationCounting>();
            var counts = host.Services.GetRequiredService<INotificationCountStore>();
            var clock = Stopwatch.StartNew();
            var rounds = 0;
            var recounted = 0;
            while (true)
            {
                recounted += await counting.RoundAsync(ct);
                rounds++;
                var at = TimeProvider.System.GetUtcNow();
                var from = CountBuckets.Of(at - Week);
                var buckets = await counts.BucketsAsync(from, CountBuckets.Of(at), ct);
                if (buckets.Count(b => b.CountedAt >= b.Bucket + CountBuckets.Width) >= (CountBuckets.Of(at) - from) / CountBuckets.Width || rounds >= 20)
                {
                    break;
                }
            }

            Report.Line($"overview.count: the week counted in {rounds} rounds ({recounted} bucket recounts) in {clock.Elapsed.TotalSeconds:F1} s ({clock.Elapsed.TotalMilliseconds / Math.Max(1, recounted):F0} ms a bucket)");
            await PrintTablesAsync(host, ct);

            var (tenantId, client) = tenants[0];
            double sevenDays = 0;
            foreach (var range in RangeNames)
            {
                var times = new List<double>();
                string summary = "";
                for (var i = 0; i <= Timed; i++)
                {
                    var watch = Stopwatch.StartNew();
                    using var response = await client.GetAsync($"/v1/stats/overview?range={range}", ct);
                    var body = await response.Content.ReadAsStringAsync(ct);
                    watch.Stop();
                    response.EnsureSuccessStatusCode();
                    if (i == 0)
                    {
                        summary = Summary(body);
                        continue; // the first warms the cache; the figures are the warm ones
                    }

                    times.Add(watch.Elapsed.TotalMilliseconds);
                }

                times.Sort();
                var median = times[times.Count / 2];
                sevenDays = range == "7d" ? median : sevenDays;
                Report.Line($"overview.http {range}: median {Report.Ms(median)}  min {Report.Ms(times[0])}  max {Report.Ms(times[^1])} ({Timed} warm calls; {summary})");
            }

            await ExplainAsync(host, tenantId, ct);
            report.Add(new Figure("overview 7d (warm, one tenant)", sevenDays, "ms", 1_000, HigherIsBetter: false, Note: $"{n:N0} notifications"));
        }
        finally
        {
            foreach (var (_, client) in tenants)
            {
                client.Dispose();
            }
        }
    }

    private static string Summary(string body)
    {
        var overview = System.Text.Json.Nodes.JsonNode.Parse(body)!;
        var latency = overview["latency"]!;
        return string.Create(CultureInfo.InvariantCulture,
            $"total {overview["total"]}, fallback rate {overview["fallbackRate"]?.GetValue<double>():P1}, p50/p95/p99 {latency["p50Ms"]}/{latency["p95Ms"]}/{latency["p99Ms"]} ms of {latency["measured"]}");
    }

    /// <summary>
    /// One notification through the stores (the template: every column a real notification has, whatever later
    /// migrations added), then <paramref name="n"/> copies by PostgreSQL with per-row id (UUIDv7 of its creation
    /// time), tenant, creation time, status, channel, step, priority and delivery moment.
    /// </summary>
    private static async Task<TimeSpan> SeedAsync(BenchHost host, Guid[] tenants, int n, DateTimeOffset now, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var notifications = host.Services.GetRequiredService<INotificationStore>();
        var delivery = host.Services.GetRequiredService<IDeliveryStore>();
        var route = new Route(Priority.Normal, [new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30)), new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]);
        var templateAt = now - Week - TimeSpan.FromDays(1); // outside every range
        var template = IdOf(await notifications.AcceptAsync(
            [new PreparedNotification(
                Guid.CreateVersion7(templateAt),
                new NewNotification(tenants[0], null, "card.transaction", null, new Contacts(Phone: "+4915100000000"), """{"text":"You paid 12.50 EUR"}""", null, null, null, null, null),
                route) { NotBefore = now.AddDays(1) }],
            templateAt, ct));
        await delivery.ApplyAsync(
            [new DeliveryUpdate(template, 0, new Transition(NotificationStatus.Delivered, DeliveryProgress.Start, Channel.WhatsApp, QueueAction.Remove), [])], templateAt, ct);

        await using var conn = new NpgsqlConnection(host.PostgresDatabase);
        await conn.OpenAsync(ct);
        var columns = new List<string>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'notifications' AND table_schema = current_schema() ORDER BY ordinal_position", conn))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                columns.Add(r.GetString(0));
            }
        }

        string S(NotificationStatus s) => ((short)s).ToString(CultureInfo.InvariantCulture);
        // Per row: 90 % delivered, 6 % failed, 2 % expired, 2 % suppressed; every 13th went past its first step; the
        // latency log-normal around 400 ms (e^N(6, 1.2) ms, from tens of ms to tens of seconds), plus 30 s for a fallback.
        var overrides = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["id"] = "(lpad(to_hex(g.ms), 12, '0') || '7' || substr(md5(g.i::text || '-' || @salt), 1, 19))::uuid",
            ["tenant_id"] = "(@tenants::uuid[])[1 + g.i % cardinality(@tenants::uuid[])]",
            ["created_at"] = "g.created",
            ["updated_at"] = "g.created + g.latency",
            ["status"] = "g.status",
            ["channel"] = $"CASE WHEN g.status = {S(NotificationStatus.Delivered)} THEN (CASE WHEN g.step > 0 THEN {(short)Channel.Sms} ELSE (g.i / 7) % 4 END)::smallint END",
            ["step"] = "g.step",
            ["retries"] = "0",
            ["priority"] = "(CASE WHEN g.i % 50 = 0 THEN 0 WHEN g.i % 10 = 0 THEN 1 ELSE 2 END)::smallint",
            ["awaited_attempt_id"] = "NULL",
            ["dedupe_key"] = "NULL",
            ["external_id"] = "NULL",
            ["version"] = "1",
            ["delivered_at"] = $"CASE WHEN g.status = {S(NotificationStatus.Delivered)} THEN g.created + g.latency END",
        };
        var select = string.Join(", ", columns.Select(c => overrides.TryGetValue(c, out var e) ? e : $"t.{c}"));
        var sql = $"""
            INSERT INTO notifications ({string.Join(", ", columns)})
            SELECT {select}
            FROM (
                SELECT i, ms, to_timestamp(ms / 1000.0) AS created,
                       (CASE WHEN i % 100 < 90 THEN {S(NotificationStatus.Delivered)} WHEN i % 100 < 96 THEN {S(NotificationStatus.Failed)}
                             WHEN i % 100 < 98 THEN {S(NotificationStatus.Expired)} ELSE {S(NotificationStatus.Suppressed)} END)::smallint AS status,
                       CASE WHEN i % 13 = 0 THEN 1 ELSE 0 END AS step,
                       make_interval(secs => (exp(6 + 1.2 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) + CASE WHEN i % 13 = 0 THEN 30000 ELSE 0 END) / 1000) AS latency
                FROM (SELECT i, (@from + i * @every)::bigint AS ms FROM generate_series(@start::bigint, @end::bigint - 1) i) s
            ) g
            CROSS JOIN (SELECT * FROM notifications WHERE id = @template) t
            """;
        var from = (now - Week).ToUnixTimeMilliseconds();
        var every = Week.TotalMilliseconds / n;
        for (var start = 0; start < n; start += SeedBatch)
        {
            await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
            cmd.Parameters.AddWithValue("salt", Guid.NewGuid().ToString("N"));
            cmd.Parameters.AddWithValue("tenants", tenants);
            cmd.Parameters.AddWithValue("from", from);
            cmd.Parameters.AddWithValue("every", every);
            cmd.Parameters.AddWithValue("start", (long)start);
            cmd.Parameters.AddWithValue("end", (long)Math.Min(n, start + SeedBatch));
            cmd.Parameters.AddWithValue("template", template);
            await cmd.ExecuteNonQueryAsync(ct);
        }

        // The host's counting may have counted these buckets (empty) before they were seeded, which no real
        // notification does to a closed bucket: start the counts afresh, so the bench also times a whole week's backfill.
        await using (var reset = new NpgsqlCommand("DELETE FROM notification_count_buckets; DELETE FROM notification_counts; DELETE FROM notification_latency_counts", conn))
        {
            await reset.ExecuteNonQueryAsync(ct);
        }

        await using (var analyze = new NpgsqlCommand("VACUUM (ANALYZE) notifications", conn) { CommandTimeout = 0 })
        {
            await analyze.ExecuteNonQueryAsync(ct);
        }

        return clock.Elapsed;
    }

    private static Guid IdOf(IReadOnlyList<AcceptResult> accepted) => accepted.Single().Id;

    /// <summary>The plans of the overview's queries for one tenant: the live ones over the last hour (the 1 h range,
    /// and the live tail of the longer ones), the counts' over the week, and one bucket's recount. The SQL is the
    /// stores' (PostgresNotificationStore.CountAsync, PostgresNotificationCountStore), the binning from LatencyBins.</summary>
    private static async Task ExplainAsync(BenchHost host, Guid tenantId, CancellationToken ct)
    {
        var now = TimeProvider.System.GetUtcNow();
        var hourFrom = now - TimeSpan.FromHours(1);
        var weekFrom = CountBuckets.Of(now - Week);
        var bin = Herald.Storage.Postgres.PostgresNotificationCountStore.Bin;
        var delivered = $"n.status = {(short)NotificationStatus.Delivered} AND n.delivered_at IS NOT NULL";
        var bucket = CountBuckets.Of(now - TimeSpan.FromHours(3));
        var plans = new (string Name, string Sql, Dictionary<string, object> Args)[]
        {
            ("1 h live counts (60 s buckets)", """
                SELECT floor(extract(epoch FROM n.created_at) * 1000 / @width)::bigint, n.channel, n.status, n.priority, count(*), count(*) FILTER (WHERE n.step > 0)
                FROM notifications n WHERE n.tenant_id = @tenant AND n.id >= @first AND n.id < @last GROUP BY 1, 2, 3, 4 ORDER BY 1, 2 NULLS FIRST, 3, 4
                """, new() { ["width"] = 60_000L, ["tenant"] = tenantId, ["first"] = TimeOrderedIds.Floor(hourFrom), ["last"] = TimeOrderedIds.Floor(now) }),
            ("1 h live latency histogram", $"""
                SELECT floor(extract(epoch FROM n.created_at) * 1000 / @width)::bigint, {bin}, count(*)
                FROM notifications n WHERE n.tenant_id = @tenant AND n.id >= @first AND n.id < @last AND {delivered} GROUP BY 1, 2 ORDER BY 1, 2
                """, new() { ["width"] = 60_000L, ["tenant"] = tenantId, ["first"] = TimeOrderedIds.Floor(hourFrom), ["last"] = TimeOrderedIds.Floor(now) }),
            ("7 d counts (1 h buckets)", """
                SELECT floor(date_part('epoch', bucket) * 1000 / @width)::bigint, channel, status, priority, sum(count)::bigint, sum(fallbacks)::bigint
                FROM notification_counts WHERE tenant_id = @tenant AND bucket >= @from AND bucket < @to GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
                """, new() { ["width"] = 3_600_000L, ["tenant"] = tenantId, ["from"] = weekFrom.UtcDateTime, ["to"] = CountBuckets.Of(now).UtcDateTime }),
            ("7 d latency counts (1 h buckets)", """
                SELECT floor(date_part('epoch', bucket) * 1000 / @width)::bigint, bin, sum(count)::bigint
                FROM notification_latency_counts WHERE tenant_id = @tenant AND bucket >= @from AND bucket < @to GROUP BY 1, 2 ORDER BY 1, 2
                """, new() { ["width"] = 3_600_000L, ["tenant"] = tenantId, ["from"] = weekFrom.UtcDateTime, ["to"] = CountBuckets.Of(now).UtcDateTime }),
            ("recount of one bucket: counts (all tenants)", """
                SELECT n.tenant_id, coalesce(n.channel, -1), n.status, n.priority, count(*), count(*) FILTER (WHERE n.step > 0)
                FROM notifications n WHERE n.id >= @first AND n.id < @last GROUP BY n.tenant_id, n.channel, n.status, n.priority
                """, new() { ["first"] = TimeOrderedIds.Floor(bucket), ["last"] = TimeOrderedIds.Floor(bucket + CountBuckets.Width) }),
            ("recount of one bucket: latency histogram (all tenants)", $"""
                SELECT n.tenant_id, {bin}, count(*) FROM notifications n WHERE n.id >= @first AND n.id < @last AND {delivered} GROUP BY 1, 2
                """, new() { ["first"] = TimeOrderedIds.Floor(bucket), ["last"] = TimeOrderedIds.Floor(bucket + CountBuckets.Width) }),
        };

        await using var conn = new NpgsqlConnection(host.PostgresDatabase);
        await conn.OpenAsync(ct);
        foreach (var (name, sql, args) in plans)
        {
            await using var cmd = new NpgsqlCommand("EXPLAIN (ANALYZE, BUFFERS) " + sql, conn) { CommandTimeout = 0 };
            foreach (var (key, value) in args)
            {
                cmd.Parameters.AddWithValue(key, value);
            }

            var plan = new StringBuilder();
            await using (var r = await cmd.ExecuteReaderAsync(ct))
            {
                while (await r.ReadAsync(ct))
                {
                    // The binning's array of bounds is long; a plan line shows it shortened.
                    var line = r.GetString(0);
                    plan.AppendLine("    " + (line.Length > 220 ? line[..220] + " …" : line));
                }
            }

            Report.Line($"overview.plan {name}:");
            Report.Line(plan.ToString().TrimEnd());
        }
    }

    private static async Task PrintTablesAsync(BenchHost host, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(host.PostgresDatabase);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            SELECT c.relname, pg_total_relation_size(c.oid), (SELECT count(*) FROM notification_counts), (SELECT count(*) FROM notification_latency_counts)
            FROM pg_class c WHERE c.relname IN ('notifications', 'notification_counts', 'notification_latency_counts') AND c.relkind = 'r' ORDER BY 1
            """, conn);
        var parts = new List<string>();
        long countRows = 0, latencyRows = 0;
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                parts.Add($"{r.GetString(0)} {r.GetInt64(1) / 1048576.0:F1} MB");
                countRows = r.GetInt64(2);
                latencyRows = r.GetInt64(3);
            }
        }

        Report.Line($"overview.tables: {string.Join("; ", parts)} (with indexes); {countRows:N0} count rows, {latencyRows:N0} latency rows");
    }
}
