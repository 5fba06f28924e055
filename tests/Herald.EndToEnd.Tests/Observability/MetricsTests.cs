using System.Text.RegularExpressions;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests.Observability;

/// <summary>Alone, after the parallel classes: every host in this test process creates a meter named "Herald", and
/// OpenTelemetry merges same-named instruments, so a host of another class that stops meanwhile ends the merged
/// series on this host's /metrics too (seen: herald_cost_total gone from Prometheus in a CI run). Production runs one
/// host per process.</summary>
[CollectionDefinition(nameof(ObservabilityCollection), DisableParallelization = true)]
public sealed class ObservabilityCollection;

/// <summary>Issue #18: after real traffic through a host, <c>/metrics</c> shows every documented series, with bounded
/// labels, and docs/OBSERVABILITY.md describes every Herald series the host exports.</summary>
[Collection(nameof(ObservabilityCollection))]
public sealed class MetricsTests(ObservedHostFixture fixture, PostgresFixture postgres) : IClassFixture<ObservedHostFixture>
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
        Assert.Matches(new Regex("""^herald_fallbacks_total\{[^}]*from="whatsapp"[^}]*reason="receipt_timeout"[^}]*to="sms"[^}]*\} [1-9]""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_send_failures_total\{[^}]*channel="whatsapp",code="[0-9a-z_]+",kind="permanent"[^}]*\} [1-9]""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_notifications_expired_total\{[^}]*priority="[a-z]+"\} [1-9]""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_notifications_suppressed_total\{[^}]*reason="rule"\} [1-9]""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_notifications_suppressed_total\{[^}]*reason="opt_out"\} [1-9]""", RegexOptions.Multiline), text);
        Assert.Matches(new Regex("""^herald_cost_total\{[^}]*channel="whatsapp",currency="EUR",provider="whatsapp-cloud"\} 0?\.[0-9]+$""", RegexOptions.Multiline), text);
        // The SMS send after WhatsApp took the message and failed it by receipt is a fallback, not a first send.
        Assert.Matches(new Regex("""^herald_delivery_accept_to_first_send_seconds_count\{[^}]*channel="whatsapp"[^}]*\} [1-9]""", RegexOptions.Multiline), text);
        Assert.DoesNotMatch(new Regex("""^herald_delivery_accept_to_first_send_seconds_count\{[^}]*channel="sms",""", RegexOptions.Multiline), text);
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

        // This host's tenants only: another host of this test process (TenantLabel_On) shares the meter name.
        Assert.NotEmpty(fixture.Tenants);
        Assert.DoesNotContain(text.Split('\n'), line => line.StartsWith("herald_", StringComparison.Ordinal)
            && fixture.Tenants.Any(t => line.Contains(t.ToString(), StringComparison.Ordinal)));
    }

    [Fact]
    public async Task TenantLabel_On_LatencyHistogramsNameTheTenant()
    {
        var settings = HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_tenantlabel_" + Guid.NewGuid().ToString("N")[..8]));
        settings["Herald:Observability:TenantLabel"] = "true";
        await using var host = await HeraldHost.StartAsync(Herald.Server.Hosting.HeraldRole.All, settings);
        var (tenantId, client) = await host.CreateTenantAsync();
        using var scraper = host.Client();

        var id = await client.SendAsync(new { type = "card.transaction", customer = new { phone = TestData.Phone() }, data = new { text = "Paid" } });
        await client.WaitForStatusAsync(id, "delivered", TimeSpan.FromSeconds(60));

        var line = new Regex($$"""^herald_delivery_accept_to_delivered_seconds_count\{[^}]*tenant="{{tenantId}}"[^}]*\} [1-9]""", RegexOptions.Multiline);
        await TestData.EventuallyAsync(() => scraper.GetStringAsync("/metrics"), line.IsMatch, TimeSpan.FromSeconds(30), "the tenant label on the latency histogram");
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
