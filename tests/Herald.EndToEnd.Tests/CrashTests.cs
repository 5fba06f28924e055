using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// The crash test reads a counter that every in-process host exports (the meter is process-wide): a host of another
/// class that stops meanwhile takes its counts with it, so it runs alone, not beside the other end-to-end classes.
/// </summary>
[CollectionDefinition(nameof(CrashCollection), DisableParallelization = true)]
public sealed class CrashCollection;

/// <summary>SPEC §2: nothing accepted is lost when a worker dies mid-delivery; duplicates only for in-flight sends.</summary>
[Collection(nameof(CrashCollection))]
public sealed class CrashTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private const int Count = 300;

    [Fact]
    public async Task KillingAWorkerMidDelivery_LosesNothing_AndCountsDuplicates()
    {
        var database = await postgres.CreateDatabaseAsync("crash_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(database);
        settings["Herald:Sandbox:LatencyMs"] = "200";
        await using var api = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        var (_, client) = await api.CreateTenantAsync();
        _client = client;

        using var doomed = StartWorkerProcess(database);
        var ids = new List<Guid>();
        for (var i = 0; i < Count; i++)
        {
            ids.Add(await client.SendAsync(new
            {
                type = "card.transaction", channels = new[] { "telegram" },
                customer = new { telegramChatId = $"5{i:D5}" }, data = new { text = $"crash-test {i}" },
            }));
        }

        await TestData.EventuallyAsync(DeliveredCountAsync, n => n >= 60, TimeSpan.FromSeconds(60), "the worker to deliver a few waves");
        doomed.Kill(entireProcessTree: true);
        await doomed.WaitForExitAsync();
        var atKill = await DeliveredCountAsync();
        // The meter is process-wide (every in-process host exports it): the api host's /metrics, read before and after,
        // sees the successor's counts as a difference.
        var resentBefore = await InFlightResendsAsync(api);

        await using var successor = await HeraldHost.StartAsync(HeraldRole.Worker, settings);
        foreach (var id in ids)
        {
            await client.WaitForStatusAsync(id, "delivered", TimeSpan.FromSeconds(90));
        }

        var received = await client.SandboxMessagesAsync("telegram");
        Assert.InRange(atKill, 60, Count - 1);
        var distinct = received.Select(m => m.Str("text")).Distinct().Count();
        var duplicates = received.Count - distinct;
        var inFlight = 0;
        foreach (var id in ids)
        {
            inFlight += (await client.GetNotificationAsync(id)).Attempts().Count(a => a!["errorCode"]?.GetValue<string>() == "worker_lost");
        }

        // SPEC §2: the re-sends of in-flight sends are counted in metrics, on /metrics as Prometheus scrapes it (the
        // exporter caches a scrape briefly, hence the wait). No other class's host starts or stops meanwhile (see above).
        var resent = await TestData.EventuallyAsync(
            async () => await InFlightResendsAsync(api) - resentBefore, r => r >= inFlight && r >= duplicates,
            TimeSpan.FromSeconds(30), $"/metrics to count the {inFlight} in-flight re-sends");

        output.WriteLine($"accepted {Count}, recorded delivered at kill {atKill}, delivered {distinct}, duplicated {duplicates}, in-flight at kill {inFlight}, herald_sends_inflight_resends_total +{resent}, lost {Count - distinct}");
        Assert.Equal(Count, distinct);
        Assert.InRange(duplicates, 0, inFlight);
    }

    /// <summary>herald_sends_inflight_resends_total from a host's /metrics (0 before the first one).</summary>
    private static async Task<long> InFlightResendsAsync(HeraldHost host)
    {
        using var http = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        var text = await http.GetStringAsync("/metrics");
        return System.Text.RegularExpressions.Regex.Matches(text, @"^herald_sends_inflight_resends_total(?:\{[^}]*\})? ([0-9.eE+]+)", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Sum(m => (long)double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private async Task<int> DeliveredCountAsync() =>
        (await _client!.GetFromJsonAsync<JsonObject>("/v1/notifications?status=delivered&limit=500"))!["items"]!.AsArray().Count;

    private HttpClient? _client;

    private static Process StartWorkerProcess(string database)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Herald.Server.dll");
        var info = new ProcessStartInfo("dotnet", [dll, "worker", "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in HeraldHost.BaseSettings(database))
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        info.Environment["Herald__Sandbox__Enabled"] = "false";
        // Its claims must run out soon after the kill, so the successor takes them over within the test's waits.
        info.Environment["Herald__Worker__Lease"] = "00:00:05";
        // Small waves, so that at the kill some notifications are finished, some in flight and some not yet claimed.
        info.Environment["Herald__Worker__Loops"] = "1";
        info.Environment["Herald__Worker__ClaimBatch"] = "20";
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
