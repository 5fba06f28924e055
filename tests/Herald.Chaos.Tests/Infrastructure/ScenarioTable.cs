using System.Globalization;
using System.Text;
using Herald.Core.Notifications;

namespace Herald.Chaos.Tests.Infrastructure;

/// <param name="NotAccepted">Notifications the clients never got a 202/200 for before their deadline.</param>
/// <param name="Failed">Accepted and final but not delivered (failed, expired, ...): accounted for, not lost.</param>
/// <param name="Phantom">Recorded delivered without any provider having received them.</param>
public sealed record ScenarioRow(
    string Scenario, int Accepted, int Delivered, int Duplicated, int Lost, int NotAccepted, int Failed, int Phantom, string Notes);

/// <summary>The accepted / delivered / duplicated / lost table every scenario reports to.</summary>
public sealed class ScenarioTable
{
    private readonly List<ScenarioRow> _rows = [];
    private readonly Lock _gate = new();

    /// <summary>How long the cluster took to start (printed, never asserted).</summary>
    public TimeSpan StartedIn { get; set; }

    public void Add(ScenarioRow row)
    {
        lock (_gate)
        {
            _rows.Add(row);
        }
    }

    /// <summary>Replaces the row of the same scenario (notes known only after the numbers).</summary>
    public void Replace(ScenarioRow row)
    {
        lock (_gate)
        {
            var i = _rows.FindIndex(r => r.Scenario == row.Scenario);
            if (i >= 0)
            {
                _rows[i] = row;
            }
            else
            {
                _rows.Add(row);
            }
        }
    }

    public static string Header =>
        string.Format(CultureInfo.InvariantCulture, "{0,-34} {1,8} {2,9} {3,10} {4,5}  {5}", "scenario", "accepted", "delivered", "duplicated", "lost", "notes");

    public static string Line(ScenarioRow r) =>
        string.Format(CultureInfo.InvariantCulture, "{0,-34} {1,8} {2,9} {3,10} {4,5}  {5}", r.Scenario, r.Accepted, r.Delivered, r.Duplicated, r.Lost,
            r.Notes + (r.Failed + r.NotAccepted + r.Phantom > 0 ? $" [failed {r.Failed}, never accepted {r.NotAccepted}, phantom {r.Phantom}]" : ""));

    public string Render()
    {
        var text = new StringBuilder();
        text.AppendLine("Herald HA chaos scenarios (native loopback cluster: nginx -> HAProxy -> 2 api, 2 workers, PostgreSQL, Redis, 2 providers;"
            + $" started in {StartedIn.TotalSeconds:0} s)");
        text.AppendLine(Header);
        text.AppendLine(new string('-', Header.Length + 20));
        lock (_gate)
        {
            foreach (var row in _rows)
            {
                text.AppendLine(Line(row));
            }
        }

        return text.ToString();
    }

    /// <summary>Prints the table where `bash scripts/test.sh` shows it.</summary>
    public void Print()
    {
        lock (_gate)
        {
            if (_rows.Count == 0)
            {
                return;
            }
        }

        // A diagnostic message (xunit.runner.json: diagnosticMessages) is what both `dotnet test` and the in-process
        // runner print for passing tests; plain stdout of the test process is not shown by `dotnet test`.
        TestContext.Current.SendDiagnosticMessage(Render());
    }

    public static ScenarioRow Compute(
        string scenario, Load load, IReadOnlyDictionary<string, NotificationStatus> statuses, IReadOnlyDictionary<string, int> received, string notes)
    {
        var accepted = load.AcceptedKeys;
        var delivered = accepted.Count(k => statuses.TryGetValue(k, out var s) && s == NotificationStatus.Delivered);
        var failed = accepted.Count(k => statuses.TryGetValue(k, out var s) && s is NotificationStatus.Failed or NotificationStatus.Expired
            or NotificationStatus.Suppressed or NotificationStatus.Cancelled);
        var phantom = accepted.Count(k => statuses.TryGetValue(k, out var s) && s == NotificationStatus.Delivered && received.GetValueOrDefault(k) == 0);
        var duplicated = received.Values.Sum(n => Math.Max(0, n - 1));
        return new ScenarioRow(scenario, accepted.Count, delivered, duplicated, accepted.Count - delivered - failed, load.Count - accepted.Count, failed, phantom, notes);
    }
}
