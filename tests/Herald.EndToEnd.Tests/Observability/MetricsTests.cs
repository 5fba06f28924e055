using System.Text.RegularExpressions;

namespace Herald.EndToEnd.Tests.Observability;

/// <summary>Issue #18: after real traffic through a host, <c>/metrics</c> shows every documented series, with bounded
/// labels, and docs/OBSERVABILITY.md describes every Herald series the host exports.</summary>
public sealed class MetricsTests(ObservedHostFixture fixture) : IClassFixture<ObservedHostFixture>
{
    [Fact]
    public async Task AfterTraffic_MetricsShowEveryDocumentedSeries()
    {
        await fixture.TrafficAsync();

        var text = await fixture.ScrapeAsync();

        Assert.All(ObservedHostFixture.DocumentedSeries, s => Assert.True(ObservedHostFixture.HasSeries(text, s), $"{s} is not on /metrics"));
        // The outcomes carry what an operator acts on: where a fallback went and why, and which vendor code failed.
        // Counts are "at least one": hosts in one test process share the "Herald" meter name, so each exports the
        // other's measurements too (one host per process in production).
        Assert.Matches(new Regex("""^herald_fallbacks_total\{[^}]*from="whatsapp"[^}]*reason="permanent_failure"[^}]*to="sms"[^}]*\} [1-9]""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_send_failures_total\{[^}]*channel="whatsapp",code="[0-9a-z_]+",kind="permanent"[^}]*\} [1-9]""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_notifications_expired_total\{[^}]*priority="[a-z]+"\} [1-9]""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_notifications_suppressed_total\{[^}]*reason="rule"\} [1-9]""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_cost_total\{[^}]*channel="whatsapp",currency="EUR",provider="whatsapp-cloud"\} 0?\.[0-9]+$""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_delivery_accept_to_delivered_seconds_count\{[^}]*channel="whatsapp",priority="[a-z]+"\} [1-9]""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_queue_depth\{[^}]*lane="critical"\} \d+""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_dependency_up\{[^}]*dependency="database"[^}]*\} 1$""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_provider_circuit_state\{[^}]*channel="whatsapp"[^}]*\} 0""", RegexOptions.Multiline), text);
    }

    [Fact]
    public async Task TenantLabel_OffByDefault_NoHeraldSeriesNamesATenant()
    {
        await fixture.TrafficAsync();

        var text = await fixture.ScrapeAsync();

        Assert.DoesNotContain(text.Split('\n'), line => line.StartsWith("herald_", StringComparison.Ordinal) && line.Contains("tenant=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EverySeriesOnMetrics_IsInTheObservabilityDoc()
    {
        await fixture.TrafficAsync();
        var text = await fixture.ScrapeAsync();
        var doc = await File.ReadAllTextAsync(Path.Combine(RepoRoot(), "docs", "OBSERVABILITY.md"), TestContext.Current.CancellationToken);

        var families = ObservedHostFixture.HeraldFamilies(text);

        Assert.NotEmpty(families);
        Assert.All(families, f => Assert.True(doc.Contains($"`{f}`", StringComparison.Ordinal), $"{f} is exported but not described in docs/OBSERVABILITY.md"));
    }

    internal static string RepoRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Herald.slnx")))
        {
            root = root.Parent;
        }

        return root?.FullName ?? throw new InvalidOperationException("Herald.slnx not found above " + AppContext.BaseDirectory);
    }
}
