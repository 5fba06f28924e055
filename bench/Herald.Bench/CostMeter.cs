using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Herald.Bench;

/// <summary>
/// Per-notification cost figures that hold up on a shared machine, where wall-clock throughput does not: CPU
/// time of the bench process (Herald and the load generator) and of every PostgreSQL process, managed
/// allocations, statements and rows (pg_stat_statements) and WAL bytes. A snapshot is taken before and after a
/// workload; the difference is divided by the notifications the workload carried through.
/// </summary>
public sealed class CostMeter(string? connectionString, string? dataDirectory)
{
    // USER_HZ: /proc/<pid>/stat counts CPU in clock ticks of 1/100 s on every Linux the bench runs on.
    private const double TicksPerSecond = 100.0;

    // The bench's own probes (queue depth polls, status counts, this meter) are not Herald's cost.
    private static readonly string[] BenchQueries = ["FROM queue GROUP BY lane", "pg_stat_activity", "pg_stat_statements", "pg_current_wal_lsn", "pg_total_relation_size"];

    public sealed record Snapshot(
        int Backends,
        TimeSpan BenchCpu,
        double PostgresCpuSeconds,
        long AllocatedBytes,
        long WalBytes,
        IReadOnlyDictionary<(long QueryId, bool TopLevel), Statement> Statements);

    /// <param name="Plans">How often it was planned: fewer than <paramref name="Calls"/> when prepared statements were reused.</param>
    public sealed record Statement(string Query, long Calls, long Rows, double TotalMs, long Plans, double PlanMs);

    /// <summary>Turns on pg_stat_statements (takes effect on restart) when the module is installed; returns whether it
    /// did. Without it the statement figures stay empty and the server still starts.</summary>
    /// <remarks>In postgresql.conf, not ALTER SYSTEM: the module's settings are unknown until it is loaded.</remarks>
    public static async Task<bool> EnableStatementStatsAsync(string dataDirectory, CancellationToken ct)
    {
        string[] roots = ["/usr/lib/postgresql", "/usr/local/pgsql/lib", "/usr/local/lib/postgresql", "/usr/lib64/pgsql"];
        if (!roots.Where(Directory.Exists).Any(r => Directory.EnumerateFiles(r, "pg_stat_statements.so", SearchOption.AllDirectories).Any()))
        {
            return false;
        }

        await File.AppendAllTextAsync(
            Path.Combine(dataDirectory, "postgresql.conf"),
            // Nested statements too, so a trigger's queries show up (as toplevel = false); planning counted apart.
            "\nshared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\npg_stat_statements.track_planning = on\npg_stat_statements.max = 2000\n",
            ct);
        return true;
    }

    public static async Task CreateExtensionAsync(string databaseConnectionString, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(databaseConnectionString);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<Snapshot> TakeAsync(CancellationToken ct)
    {
        var statements = new Dictionary<(long, bool), Statement>();
        long wal = 0;
        var backends = 0;
        if (connectionString is not null)
        {
            await using var conn = new NpgsqlConnection(connectionString);
            await conn.OpenAsync(ct);
            await using (var cmd = new NpgsqlCommand("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn", conn))
            {
                wal = (long)Convert.ToDecimal(await cmd.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
            }

            // Herald's pooled connections to this database (this probe's own excluded): with many, each runs a hot
            // statement too rarely for its prepared plan to pay off.
            await using (var cmd = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", conn))
            {
                backends = (int)(long)(await cmd.ExecuteScalarAsync(ct))!;
            }

            try
            {
                await using var cmd = new NpgsqlCommand(
                    "SELECT queryid, toplevel, query, calls, rows, total_exec_time, plans, total_plan_time FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    conn);
                await using var r = await cmd.ExecuteReaderAsync(ct);
                while (await r.ReadAsync(ct))
                {
                    var query = r.GetString(2);
                    if (!BenchQueries.Any(b => query.Contains(b, StringComparison.Ordinal)))
                    {
                        statements[(r.GetInt64(0), r.GetBoolean(1))] = new Statement(query, r.GetInt64(3), r.GetInt64(4), r.GetDouble(5), r.GetInt64(6), r.GetDouble(7));
                    }
                }
            }
            catch (PostgresException)
            {
                // No pg_stat_statements (an external server without it): the statement figures stay empty.
            }
        }

        return new Snapshot(backends, Process.GetCurrentProcess().TotalProcessorTime, PostgresCpuSeconds(), GC.GetTotalAllocatedBytes(precise: false), wal, statements);
    }

    /// <summary>Prints <c>cost.NAME:</c> per notification, and the statements that cost the most.</summary>
    public static void Print(string name, Snapshot before, Snapshot after, long notifications)
    {
        if (notifications <= 0)
        {
            return;
        }

        double Per(double total) => total / notifications;
        var deltas = after.Statements
            .Select(kv => (Key: kv.Key, After: kv.Value, Before: before.Statements.GetValueOrDefault(kv.Key)))
            .Select(x => (x.Key.TopLevel, x.After.Query, Calls: x.After.Calls - (x.Before?.Calls ?? 0), Rows: x.After.Rows - (x.Before?.Rows ?? 0),
                Ms: x.After.TotalMs - (x.Before?.TotalMs ?? 0), Plans: x.After.Plans - (x.Before?.Plans ?? 0),
                PlanMs: x.After.PlanMs - (x.Before?.PlanMs ?? 0)))
            .Where(x => x.Calls > 0)
            .ToList();
        var topLevel = deltas.Where(d => d.TopLevel).ToList();
        var herald = (after.BenchCpu - before.BenchCpu).TotalMicroseconds;
        var postgres = (after.PostgresCpuSeconds - before.PostgresCpuSeconds) * 1_000_000;
        Report.Line(string.Create(
            CultureInfo.InvariantCulture,
            $"cost.{name}: per notification: bench process cpu {Per(herald):F0} µs, postgres cpu {Per(postgres):F0} µs, allocated {Per(after.AllocatedBytes - before.AllocatedBytes) / 1024:F1} KB, "
            + $"statements {Per(topLevel.Sum(d => d.Calls)):F3} (+{Per(deltas.Where(d => !d.TopLevel).Sum(d => d.Calls)):F3} nested), rows {Per(topLevel.Sum(d => d.Rows)):F2}, "
            + $"statement time {Per(topLevel.Sum(d => d.Ms)) * 1000:F0} µs, planned {topLevel.Sum(d => d.Plans):N0} of {topLevel.Sum(d => d.Calls):N0} statements ({Per(topLevel.Sum(d => d.PlanMs)) * 1000:F0} µs/n planning), wal {Per(after.WalBytes - before.WalBytes):F0} B, connections {after.Backends}  ({notifications:N0} notifications)"));
        foreach (var d in deltas.OrderByDescending(d => d.Ms).Take(8))
        {
            var text = string.Join(' ', d.Query.Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));
            Report.Info(string.Create(
                CultureInfo.InvariantCulture,
                $"{(d.TopLevel ? "" : "(nested) ")}{Per(d.Calls):F4} calls/n, {Per(d.Ms) * 1000:F1} µs/n, {(double)d.Rows / d.Calls:F1} rows/call, {(d.Plans == 0 ? 0 : d.PlanMs * 1000 / d.Plans):F0} µs/plan x {d.Plans}/{d.Calls}: {(text.Length > 110 ? text[..110] + "…" : text)}"));
        }
    }

    /// <summary>User + system CPU of the postmaster, its live children and its reaped children, in seconds.</summary>
    private double PostgresCpuSeconds()
    {
        if (dataDirectory is null || !File.Exists(Path.Combine(dataDirectory, "postmaster.pid")))
        {
            return 0;
        }

        try
        {
            var postmaster = int.Parse(File.ReadLines(Path.Combine(dataDirectory, "postmaster.pid")).First().Trim(), CultureInfo.InvariantCulture);
            long ticks = 0;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid) || ReadStat(pid) is not { } stat)
                {
                    continue;
                }

                if (pid == postmaster)
                {
                    // utime, stime, and cutime, cstime: backends that already exited are counted there.
                    ticks += stat.UTime + stat.STime + stat.CUTime + stat.CSTime;
                }
                else if (stat.ParentPid == postmaster)
                {
                    ticks += stat.UTime + stat.STime;
                }
            }

            return ticks / TicksPerSecond;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static (int ParentPid, long UTime, long STime, long CUTime, long CSTime)? ReadStat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            // The command name may contain spaces; fields after its closing parenthesis are fixed.
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            long F(int field) => long.Parse(fields[field - 3], CultureInfo.InvariantCulture);
            return ((int)F(4), F(14), F(15), F(16), F(17));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
