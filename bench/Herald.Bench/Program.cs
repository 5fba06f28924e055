using Herald.Bench;
using Herald.Bench.Workloads;

// The benchmark command: measures the SPEC §5 figures against a real in-process Herald host and prints them.
// It measures; it never asserts. Exit code 0 unless the bench itself could not run.
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Stop the workloads, then dispose the host and PostgreSQL in the finally below.
    e.Cancel = true;
    cancel.Cancel();
};

var ct = cancel.Token;
var report = new Report();
var total = System.Diagnostics.Stopwatch.StartNew();
Report.Line($"herald bench: storage {options.Storage}, workloads {string.Join(",", BenchOptions.AllWorkloads.Concat(BenchOptions.OptInWorkloads).Where(options.Runs))}, duration {options.Duration.TotalSeconds:F0} s, e2e {options.EndToEndCount:N0}, backlog {options.Backlog:N0}{(options.Quick ? " (quick)" : "")}, tracing {(options.Tracing ? "on (OTLP to an in-process sink)" : "off")}");
if (options.Runs("rules"))
{
    // CPU only: no host and no database, so `--only rules` runs in seconds on any machine.
    RulesWorkload.Run(options, report);
    if (options.Only.Count == 1)
    {
        report.PrintTable();
        return 0;
    }
}

await using var host = await BenchHost.StartStorageAsync(options.Storage, ct);
try
{
    Report.PrintMachine(options.Storage, await host.DatabaseVersionAsync(ct));
    await host.BootAsync(options.Tracing, options.PostgresExtra, ct);
    // Once the host runs, its console lifetime handles Ctrl-C (SIGINT/SIGTERM) by stopping; the bench stops with it.
    host.Stopping.Register(cancel.Cancel);
    Report.Info($"herald host (role all, sandbox 0 ms latency, no rate limit) at {host.BaseUrl}{(options.PostgresExtra is { } extra ? $", connection string + \"{extra}\"" : "")}");
    if (await host.QueueTableMbAsync(ct) is { } mb)
    {
        Report.Line($"queue_table.start: {mb:F1} MB");
    }

    if (options.Runs("ingest"))
    {
        await IngestWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("batch"))
    {
        await BatchWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("e2e"))
    {
        await EndToEndWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("critical"))
    {
        await CriticalWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("file"))
    {
        await FileWorkload.RunAsync(host, report, ct);
    }

    if (options.Runs("fairness"))
    {
        await FairnessWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("replies"))
    {
        await RepliesWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("purge"))
    {
        await PurgeWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("reencrypt"))
    {
        await ReencryptWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("overview"))
    {
        await OverviewWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("split"))
    {
        await SplitWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("split-critical"))
    {
        await SplitCriticalWorkload.RunAsync(host, options, report, ct);
    }

    if (options.Runs("soak"))
    {
        await SoakWorkload.RunAsync(host, options, report, ct);
    }

    report.PrintTable();
    Report.Line("");
    Report.Line($"load average (1/5/15 min) at end: {Report.LoadAverage()}");
    Report.Line($"uptime at end: {Report.Uptime()}");
    Report.Line($"bench time: {total.Elapsed.TotalSeconds:F0} s");
}
catch (OperationCanceledException) when (ct.IsCancellationRequested)
{
    Report.Line("interrupted: stopping Herald and PostgreSQL");
}

return 0;
