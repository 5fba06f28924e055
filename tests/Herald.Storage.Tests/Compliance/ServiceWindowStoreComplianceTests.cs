namespace Herald.Storage.Tests;

/// <summary>
/// WhatsApp's customer-service window (issue #16) on every backend: when each customer last wrote through each account,
/// the latest time winning whatever order the vendor's webhooks arrive in.
/// </summary>
public abstract class ServiceWindowStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly Guid Tenant = new("0190a000-0000-7000-8000-0000000000b0");
    private static readonly Guid Account = new("0190a000-0000-7000-8000-0000000000b1");
    private static readonly Guid OtherAccount = new("0190a000-0000-7000-8000-0000000000b2");
    private const string Phone = "4915112345678";

    [Fact]
    public async Task LastInbound_NeverWritten_IsNull()
    {
        Assert.Null(await Stores.Windows.LastInboundAsync(Account, Phone, Ct));
    }

    [Fact]
    public async Task Touch_LatestTimeWins_PerAccountAndAddress_InAnyOrder()
    {
        await Stores.Windows.TouchAsync(
            [new(Tenant, Account, Phone, T0.AddMinutes(5)), new(Tenant, Account, Phone, T0), new(Tenant, OtherAccount, Phone, T0.AddHours(1))], Ct);
        Assert.Equal(T0.AddMinutes(5), await Stores.Windows.LastInboundAsync(Account, Phone, Ct));

        // A webhook delivered late, naming an older message, does not shorten the window.
        await Stores.Windows.TouchAsync([new(Tenant, Account, Phone, T0.AddMinutes(1))], Ct);
        Assert.Equal(T0.AddMinutes(5), await Stores.Windows.LastInboundAsync(Account, Phone, Ct));

        await Stores.Windows.TouchAsync([new(Tenant, Account, Phone, T0.AddHours(30))], Ct);
        Assert.Equal(T0.AddHours(30), await Stores.Windows.LastInboundAsync(Account, Phone, Ct));
        Assert.Equal(T0.AddHours(1), await Stores.Windows.LastInboundAsync(OtherAccount, Phone, Ct));
        Assert.Null(await Stores.Windows.LastInboundAsync(Account, "4915100000000", Ct));
    }
}

public sealed class PostgresServiceWindowStoreComplianceTests(PostgresFixture server) : ServiceWindowStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteServiceWindowStoreComplianceTests : ServiceWindowStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
