using System.Diagnostics;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Bench.Workloads;

/// <summary>
/// Issue #17: the cost of `herald reencrypt` after a data key rotation. Stores <c>--backlog</c> notifications (default
/// 1,000,000; 20,000 with --quick) of one tenant straight through the store (suppressed, so no worker picks them up),
/// rotates the tenant's data key and re-encrypts every row in batches of 1000, as the verb does; prints rows per
/// second and the process CPU per row. Opt-in: <c>--only reencrypt</c>.
/// </summary>
public static class ReencryptWorkload
{
    private const int Batch = 1000;

    public static async Task RunAsync(BenchHost host, BenchOptions options, Report report, CancellationToken ct)
    {
        Report.Line("");
        Report.Line($"== reencrypt: {options.Backlog:N0} notifications, one data key rotation, batches of {Batch} ==");
        var (tenant, _) = await host.CreateTenantAsync("Reencrypt Bank", ct);
        var store = host.Services.GetRequiredService<INotificationStore>();
        var route = new Route(Priority.Low, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]);
        var seed = Stopwatch.StartNew();
        for (var i = 0; i < options.Backlog; i += Batch)
        {
            var items = Enumerable.Range(i, Math.Min(Batch, options.Backlog - i)).Select(n => new PreparedNotification(
                Guid.CreateVersion7(),
                new NewNotification(tenant, null, "card.transaction", null, new Contacts(Phone: "+49151" + (10_000_000 + n)), $$"""{"amount":"{{n}}.00","merchant":"Shop {{n}}"}""", null, null, null, null, null),
                route) { Suppressed = true }).ToList();
            await store.AcceptAsync(items, TimeProvider.System.GetUtcNow(), ct);
        }

        Report.Line($"reencrypt.seed: {options.Backlog:N0} stored in {seed.Elapsed.TotalSeconds:F1} s");
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var costBefore = await host.Cost.TakeAsync(ct);
        var clock = Stopwatch.StartNew();
        // Each tenth of the table's rate on its own: a pass that slows down as it goes shows here.
        var tenth = Math.Max(options.Backlog / 10, Batch);
        var (mark, markAt) = (0L, TimeSpan.Zero);
        void Progress(ReencryptionTable table, long scanned, long rewritten)
        {
            if (table != ReencryptionTable.Notifications || scanned - mark < tenth)
            {
                return;
            }

            var now = clock.Elapsed;
            Report.Info($"rows {mark:N0}–{scanned:N0}: {(scanned - mark) / Math.Max((now - markAt).TotalSeconds, 0.001):F0}/s");
            (mark, markAt) = (scanned, now);
        }

        var result = await host.Services.GetRequiredService<Reencryptor>().RunAsync([tenant], Batch, Progress, ct);
        var elapsed = clock.Elapsed;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var (scanned, rewritten) = result.Tables[ReencryptionTable.Notifications];
        CostMeter.Print("reencrypt", costBefore, await host.Cost.TakeAsync(ct), scanned);
        var rate = scanned / Math.Max(elapsed.TotalSeconds, 0.001);
        Report.Line($"reencrypt.notifications: {scanned:N0} looked at, {rewritten:N0} rewritten in {elapsed.TotalSeconds:F1} s ({rate:F0}/s), process CPU {cpu.TotalMicroseconds / Math.Max(scanned, 1):F1} µs per row");
        report.Add(new Figure("reencrypt rows after rotation", rate, "/s", null, HigherIsBetter: true, Note: $"{scanned:N0} rows"));
    }
}
