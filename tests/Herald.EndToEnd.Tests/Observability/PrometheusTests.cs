using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests.Observability;

/// <summary>
/// Issue #18, shipped with the product: deploy/observability's alert rules pass <c>promtool check rules</c> and their
/// unit tests (<c>promtool test rules</c>, one case at least per alert), every alert's runbook is a section of
/// docs/OBSERVABILITY.md, and the real <c>prometheus</c> binary scrapes a running Herald host on loopback and finds
/// every documented series after traffic.
/// </summary>
[Collection(nameof(ObservabilityCollection))]
public sealed partial class PrometheusTests(ObservedHostFixture fixture) : IClassFixture<ObservedHostFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static string Deploy => Path.Combine(MetricsTests.RepoRoot(), "deploy", "observability");

    [Fact]
    public async Task Promtool_ChecksTheAlertRules()
    {
        var (code, output) = await PromtoolAsync("check", "rules", Path.Combine(Deploy, "alerts.yml"));

        Assert.True(code == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Promtool_UnitTestsPass_AndCoverEveryAlert()
    {
        var rules = await File.ReadAllTextAsync(Path.Combine(Deploy, "alerts.yml"), TestContext.Current.CancellationToken);
        var tests = await File.ReadAllTextAsync(Path.Combine(Deploy, "alerts.test.yml"), TestContext.Current.CancellationToken);

        var (code, output) = await PromtoolAsync("test", "rules", Path.Combine(Deploy, "alerts.test.yml"));

        Assert.True(code == 0, output);
        var alerts = AlertName().Matches(rules).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        var tested = TestedAlert().Matches(tests).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(alerts);
        Assert.Empty(alerts.Except(tested));
    }

    [Fact]
    public async Task EveryAlert_HasARunbookSectionInTheObservabilityDoc()
    {
        var rules = await File.ReadAllTextAsync(Path.Combine(Deploy, "alerts.yml"), TestContext.Current.CancellationToken);
        var doc = await File.ReadAllTextAsync(Path.Combine(MetricsTests.RepoRoot(), "docs", "OBSERVABILITY.md"), TestContext.Current.CancellationToken);

        foreach (Match alert in AlertName().Matches(rules))
        {
            var name = alert.Groups[1].Value;
            Assert.Contains($"runbook_url: \"docs/OBSERVABILITY.md#{name.ToLowerInvariant()}\"", rules, StringComparison.Ordinal);
            Assert.Matches(new Regex($"^### {name}$", RegexOptions.Multiline), doc);
        }
    }

    [Fact]
    public async Task Prometheus_ScrapesARunningHost_AndFindsEveryDocumentedSeries()
    {
        await fixture.TrafficAsync();
        await fixture.ScrapeAsync();
        var target = new Uri(fixture.Host.BaseUrl).Authority;
        // The shipped alert rules load beside the scrape: a rule Prometheus refuses fails here too.
        var config = $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - alerts.yml
            scrape_configs:
              - job_name: herald
                metrics_path: /metrics
                static_configs:
                  - targets: ["{target}"]
                    labels:
                      role: all
            """;
        await using var prometheus = await PrometheusServer.StartAsync(config, Path.Combine(Deploy, "alerts.yml"));

        var up = await TestData.EventuallyAsync(
            () => prometheus.QueryAsync("up{job=\"herald\"}"), r => r.Count == 1 && r[0]!["value"]![1]!.GetValue<string>() == "1", Deadline, "a successful scrape");
        Assert.Equal("all", up[0]!["metric"].Str("role"));
        foreach (var series in ObservedHostFixture.DocumentedSeries)
        {
            var found = await TestData.EventuallyAsync(
                () => prometheus.QueryAsync($"count({{__name__=\"{series}\", job=\"herald\"}})"), r => r.Count == 1, Deadline, $"{series} in Prometheus");
            Assert.NotEqual("0", found[0]!["value"]![1]!.GetValue<string>());
        }

        // Every dashboard query is valid PromQL that Prometheus answers (a 400 throws here).
        foreach (var expr in DashboardQueries())
        {
            await prometheus.QueryAsync(expr.Replace("$__rate_interval", "1m", StringComparison.Ordinal));
        }

        var rules = await prometheus.Api.GetFromJsonAsync<JsonObject>("/api/v1/rules?type=alert");
        var loaded = rules!["data"]!["groups"]!.AsArray().SelectMany(g => g!["rules"]!.AsArray()).Select(r => r.Str("name")).ToList();
        Assert.Contains("HeraldNoDeliveries", loaded);
        Assert.Equal(10, loaded.Count);
    }

    [Fact]
    public async Task Dashboard_QueriesOnlyDocumentedSeries()
    {
        var doc = await File.ReadAllTextAsync(Path.Combine(MetricsTests.RepoRoot(), "docs", "OBSERVABILITY.md"), TestContext.Current.CancellationToken);

        var queries = DashboardQueries();

        Assert.NotEmpty(queries);
        var families = queries.SelectMany(q => SeriesName().Matches(q).Select(m => m.Groups[1].Value)).Distinct(StringComparer.Ordinal).ToList();
        Assert.All(families, f => Assert.True(doc.Contains($"`{f}`", StringComparison.Ordinal), $"the dashboard queries {f}, which docs/OBSERVABILITY.md does not describe"));
    }

    private static List<string> DashboardQueries()
    {
        var dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(Deploy, "grafana", "herald-dashboard.json")))!;
        return [.. dashboard["panels"]!.AsArray()
            .SelectMany(p => p!["targets"]?.AsArray() ?? [])
            .Select(t => t!["expr"]!.GetValue<string>())];
    }

    private static async Task<(int Code, string Output)> PromtoolAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(PrometheusServer.Binary("promtool"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Deploy,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>A Herald family in a query, without the histogram's sample suffixes.</summary>
    [GeneratedRegex(@"\b(herald_[a-z0-9_]+?)(?:_bucket|_sum|_count)?\b")]
    private static partial Regex SeriesName();

    [GeneratedRegex(@"^\s*- alert: (\w+)\s*$", RegexOptions.Multiline)]
    private static partial Regex AlertName();

    [GeneratedRegex(@"^\s*alertname: (\w+)\s*$", RegexOptions.Multiline)]
    private static partial Regex TestedAlert();
}
