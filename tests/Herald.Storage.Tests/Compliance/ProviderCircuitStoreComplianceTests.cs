namespace Herald.Storage.Tests;

/// <summary>
/// The circuit report contract (<see cref="IProviderCircuitStore"/>): each node's reports replace its earlier ones,
/// readers see only fresh reports of their own tenant, and nodes that stopped are forgotten. Every backend runs it.
/// </summary>
public abstract class ProviderCircuitStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task ReportAsync_ReplacesTheNodesReports_AndListAsync_ShowsEveryNodeOfTheTenant()
    {
        var tenant = Guid.NewGuid();
        var other = Guid.NewGuid();
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());

        await Stores.Circuits.ReportAsync("worker-1", [Report(a, tenant, "closed"), Report(b, tenant, "closed")], T0, T0.AddHours(-1), Ct);
        await Stores.Circuits.ReportAsync("worker-2", [Report(a, tenant, "open"), Report(Guid.NewGuid(), other, "open")], T0, T0.AddHours(-1), Ct);
        // worker-1 again, a moment later: a opened, b is no longer held (deleted or disabled).
        await Stores.Circuits.ReportAsync("worker-1", [Report(a, tenant, "open", T0.AddSeconds(4))], T0.AddSeconds(5), T0.AddHours(-1), Ct);

        var reports = await Stores.Circuits.ListAsync(tenant, T0, Ct);

        Assert.Equal(
            [(a, "worker-1", "open", T0.AddSeconds(4), T0.AddSeconds(5)), (a, "worker-2", "open", T0, T0)],
            reports.Select(r => (r.AccountId, r.Node, r.State, r.Since, r.SeenAt)).OrderBy(r => r.Node, StringComparer.Ordinal));
        Assert.All(reports, r => Assert.Equal(tenant, r.TenantId));
    }

    [Fact]
    public async Task ListAsync_LeavesOutStaleReports_AndReportAsync_ForgetsNodesThatStopped()
    {
        var tenant = Guid.NewGuid();
        var account = Guid.NewGuid();
        await Stores.Circuits.ReportAsync("gone", [Report(account, tenant, "open")], T0, T0.AddHours(-1), Ct);
        await Stores.Circuits.ReportAsync("alive", [Report(account, tenant, "closed")], T0.AddMinutes(1), T0.AddHours(-1), Ct);

        Assert.Equal(["alive"], (await Stores.Circuits.ListAsync(tenant, T0.AddSeconds(30), Ct)).Select(r => r.Node));
        Assert.Equal(2, (await Stores.Circuits.ListAsync(tenant, T0, Ct)).Count);

        await Stores.Circuits.ReportAsync("alive", [Report(account, tenant, "closed")], T0.AddMinutes(2), T0.AddSeconds(30), Ct);
        Assert.Equal(["alive"], (await Stores.Circuits.ListAsync(tenant, T0, Ct)).Select(r => r.Node));
    }

    private static ProviderCircuitReport Report(Guid account, Guid tenant, string state, DateTimeOffset? since = null) =>
        new(account, tenant, "", state, since ?? T0, T0);
}

public sealed class PostgresProviderCircuitStoreComplianceTests(PostgresFixture server) : ProviderCircuitStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteProviderCircuitStoreComplianceTests : ProviderCircuitStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
