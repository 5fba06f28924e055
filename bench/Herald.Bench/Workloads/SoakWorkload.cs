using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Herald.Bench.Workloads;

/// <summary>
/// Issue #20: a sustained load well below the peak for a long time (<c>--soak 10m</c>, <c>--soak 1h</c>; rate from
/// <c>--soak-rate</c>), Telegram notifications posted in batches every 100 ms (open loop: a slow answer does not slow the
/// posting down). Every minute (every 5 minutes past 15 minutes) prints what a bank's DBA watches: the queue's and the
/// notifications table's size with their indexes, live and dead tuples, the last autovacuum, the queue's depth, what was
/// delivered, and the batch POSTs' p99 in that interval. Flat sizes and dead tuples mean autovacuum keeps up.
/// </summary>
public static class SoakWorkload
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    // Posts in flight beyond this are not started (counted as "behind"): the soak must not pile up requests.
    private const int MaxInFlight = 32;

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        var duration = options.Soak ?? TimeSpan.FromMinutes(10);
        var interval = duration > TimeSpan.FromMinutes(15) ? TimeSpan.FromMinutes(5) : TimeSpan.FromMinutes(1);
        var perTick = Math.Max(1, (int)(options.SoakRate * Tick.TotalSeconds));
        Report.Line("");
        Report.Line($"== soak: {options.SoakRate:N0} notifications/s for {duration.TotalMinutes:F0} min (Telegram, batches of {perTick} every {Tick.TotalMilliseconds:F0} ms), sizes every {interval.TotalMinutes:F0} min ==");
        if (host.PostgresDatabase is null)
        {
            Report.Info("soak: table sizes are PostgreSQL's; on SQLite only the rates are printed");
        }

        var (_, http) = await host.CreateTenantAsync("Bench soak", ct);
        using var _ = http;
        var latencies = new ConcurrentBag<double>();
        long posted = 0, failed = 0, behind = 0, inFlight = 0, sequence = 0;
        var clock = Stopwatch.StartNew();
        var nextReport = interval;
        var first = await SampleAsync(host, ct);
        var previous = first;
        PrintSample(TimeSpan.Zero, first, null, 0, latencies, 0, 0);
        using var timer = new PeriodicTimer(Tick);
        var pending = new List<Task>();
        while (clock.Elapsed < duration && await timer.WaitForNextTickAsync(ct))
        {
            if (Interlocked.Read(ref inFlight) >= MaxInFlight)
            {
                Interlocked.Increment(ref behind);
            }
            else
            {
                var start = sequence;
                sequence += perTick;
                var body = Payloads.Batch((int)(start % 100_000_000), perTick, i => Payloads.Telegram(Payloads.ChatId(9, i % 10_000_000)));
                Interlocked.Increment(ref inFlight);
                pending.Add(Task.Run(
                    async () =>
                    {
                        var began = Stopwatch.GetTimestamp();
                        try
                        {
                            if (await ClosedLoop.PostAsync(http, "/v1/notifications/batch", body, perTick, ct) > 0)
                            {
                                Interlocked.Add(ref posted, perTick);
                                latencies.Add(Stopwatch.GetElapsedTime(began).TotalMilliseconds);
                            }
                            else
                            {
                                Interlocked.Increment(ref failed);
                            }
                        }
                        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !ct.IsCancellationRequested)
                        {
                            Interlocked.Increment(ref failed);
                        }
                        finally
                        {
                            Interlocked.Decrement(ref inFlight);
                        }
                    },
                    ct));
                pending.RemoveAll(t => t.IsCompleted);
            }

            if (clock.Elapsed >= nextReport)
            {
                var sample = await SampleAsync(host, ct);
                PrintSample(clock.Elapsed, sample, previous, Interlocked.Read(ref posted), latencies, Interlocked.Read(ref failed), Interlocked.Read(ref behind));
                latencies.Clear();
                previous = sample;
                nextReport += interval;
            }
        }

        await Task.WhenAll(pending);
        var (drained, left) = await host.DrainAsync(TimeSpan.FromMinutes(5), ct);
        var last = await SampleAsync(host, ct);
        PrintSample(clock.Elapsed, last, previous, Interlocked.Read(ref posted), latencies, Interlocked.Read(ref failed), Interlocked.Read(ref behind));
        Report.Line($"soak: {posted:N0} posted in {duration.TotalMinutes:F0} min ({posted / duration.TotalSeconds:F0}/s), {failed:N0} batch POSTs failed, {behind:N0} ticks skipped (>{MaxInFlight} posts in flight); queue drained {drained.TotalSeconds:F1} s after the end ({left:N0} left)");
        if (first.Tables.Count > 0)
        {
            Report.Line("soak.sizes: " + string.Join("; ", last.Tables.Select(t =>
            {
                var start = first.Tables.First(f => f.Name == t.Name);
                return $"{t.Name} {start.HeapMb + start.IndexMb:F1} → {t.HeapMb + t.IndexMb:F1} MB (heap + indexes), dead tuples {start.Dead:N0} → {t.Dead:N0}";
            })));
        }

        report.Add(new Figure("soak rate", posted / duration.TotalSeconds, "n/s", null, HigherIsBetter: true, Note: $"{duration.TotalMinutes:F0} min"));
    }

    private sealed record Table(string Name, double HeapMb, double IndexMb, long Live, long Dead, long Deleted, string LastAutovacuum);

    /// <param name="Managed">The bench process's managed heap (Herald, the sandbox and the load generator share it), so a
    /// growing RSS can be told apart: live data growing, or the collector keeping memory it is not short of.</param>
    private sealed record Sample(IReadOnlyList<Table> Tables, long QueueDepth, double RssMb, string Managed);

    private static string ManagedHeap()
    {
        const double Mb = 1048576.0;
        var last = GC.GetGCMemoryInfo(GCKind.Any);
        var (blocking, background) = (GC.GetGCMemoryInfo(GCKind.FullBlocking), GC.GetGCMemoryInfo(GCKind.Background));
        var full = blocking.Index > background.Index ? blocking : background;
        var generations = last.GenerationInfo;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"managed heap {last.HeapSizeBytes / Mb:F0} MB after the last GC (gen2 {generations[2].SizeAfterBytes / Mb:F0}, large objects {generations[3].SizeAfterBytes / Mb:F0}, fragmented {last.FragmentedBytes / Mb:F0}), committed {last.TotalCommittedBytes / Mb:F0} MB, the newest full GC (#{full.Index}) kept {(full.Index > 0 ? $"{full.PromotedBytes / Mb:F0} MB" : "-")} ({GC.CollectionCount(2)} gen2 GCs)");
    }

    private static async Task<Sample> SampleAsync(BenchHost host, CancellationToken ct)
    {
        var depth = (await host.QueueDepthAsync(ct)).Sum();
        if (host.PostgresDatabase is null)
        {
            return new Sample([], depth, Report.RssMb(), ManagedHeap());
        }

        await using var conn = new NpgsqlConnection(host.PostgresDatabase);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(
            """
            SELECT relname, pg_relation_size(relid), pg_indexes_size(relid), n_live_tup, n_dead_tup, n_tup_del,
                   coalesce(to_char(last_autovacuum, 'HH24:MI:SS'), '-')
            FROM pg_stat_user_tables WHERE relname IN ('queue', 'notifications', 'attempts') ORDER BY relname DESC
            """,
            conn);
        var tables = new List<Table>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            tables.Add(new Table(r.GetString(0), r.GetInt64(1) / 1048576.0, r.GetInt64(2) / 1048576.0, r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetString(6)));
        }

        return new Sample(tables, depth, Report.RssMb(), ManagedHeap());
    }

    private static void PrintSample(TimeSpan at, Sample sample, Sample? previous, long posted, IEnumerable<double> latencies, long failed, long behind)
    {
        var queue = sample.Tables.FirstOrDefault(t => t.Name == "queue");
        var delivered = queue is not null && previous?.Tables.FirstOrDefault(t => t.Name == "queue") is { } before ? queue.Deleted - before.Deleted : (long?)null;
        var p99 = new Percentiles(latencies).At(99);
        var tables = string.Join("  ", sample.Tables.Select(t =>
            string.Create(CultureInfo.InvariantCulture, $"{t.Name} {t.HeapMb:F1}+{t.IndexMb:F1} MB live {t.Live:N0} dead {t.Dead:N0} autovacuum {t.LastAutovacuum}")));
        Report.Line(string.Create(
            CultureInfo.InvariantCulture,
            $"soak.t+{at.TotalMinutes:F0}m: posted {posted:N0}, queue depth {sample.QueueDepth:N0}{(delivered is { } d ? $", queue rows deleted in interval {d:N0}" : "")}, batch p99 {Report.Ms(p99)}, failed {failed}, skipped {behind}, rss {sample.RssMb:F0} MB, {sample.Managed} | {tables}"));
    }
}
