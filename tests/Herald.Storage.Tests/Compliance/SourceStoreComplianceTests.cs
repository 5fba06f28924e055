using System.Text.Json.Nodes;

namespace Herald.Storage.Tests;

/// <summary>The <see cref="ISourceStore"/> contract, run unchanged on every backend.</summary>
public abstract class SourceStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private async Task<Source> NewSourceAsync(Guid tenantId, string name = "Core banking", string? secret = "enc:secret", int minutesLater = 0)
    {
        var at = T0.AddMinutes(minutesLater).AddTicks(1234); // below a millisecond: stored truncated
        return await Stores.Sources.CreateAsync(
            new Source(Guid.CreateVersion7(), tenantId, name, "mapped", """{"mapping":{"type":"/kind","customer":{"phone":"/msisdn"}}}""", secret, "AB:CD", at, at), Ct);
    }

    [Fact]
    public async Task CreateAsync_ThenGet_RoundTripsEveryField()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank A", Ct);

        var created = await NewSourceAsync(tenant.Id);
        var read = await Stores.Sources.GetAsync(tenant.Id, created.Id, Ct);

        Assert.NotNull(read);
        Assert.Equal(created with { Settings = "" }, read with { Settings = "" });
        Assert.Equal(0, read.CreatedAt.Ticks % TimeSpan.TicksPerMillisecond);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(created.Settings), JsonNode.Parse(read.Settings)));
        Assert.Equal("enc:secret", read.SigningSecret);
        Assert.Equal("AB:CD", read.ClientCertificate);
    }

    [Fact]
    public async Task GetListUpdateDelete_OtherTenantsSource_SeeNothingAndChangeNothing()
    {
        var a = await Stores.Tenants.CreateTenantAsync("Bank A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("Bank B", Ct);
        var source = await NewSourceAsync(a.Id);

        Assert.Null(await Stores.Sources.GetAsync(b.Id, source.Id, Ct));
        Assert.Empty(await Stores.Sources.ListAsync(b.Id, Ct));
        Assert.Null(await Stores.Sources.UpdateAsync(source with { TenantId = b.Id, Name = "stolen" }, Ct));
        Assert.False(await Stores.Sources.DeleteAsync(b.Id, source.Id, Ct));
        Assert.Equal("Core banking", (await Stores.Sources.GetAsync(a.Id, source.Id, Ct))!.Name);
    }

    [Fact]
    public async Task ListAsync_ReturnsTenantsSourcesOldestFirst()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank A", Ct);
        var first = await NewSourceAsync(tenant.Id, "one");
        // Created later: two version-7 ids of one millisecond are in random order, so equal times would not say which is older.
        var second = await NewSourceAsync(tenant.Id, "two", minutesLater: 1);

        var list = await Stores.Sources.ListAsync(tenant.Id, Ct);

        Assert.Equal([first.Id, second.Id], list.Select(s => s.Id));
    }

    [Fact]
    public async Task UpdateAsync_ReplacesFieldsAndKeepsCreationTime()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank A", Ct);
        var source = await NewSourceAsync(tenant.Id);

        var updated = await Stores.Sources.UpdateAsync(
            source with { Name = "Cards", Adapter = "file", Settings = """{"a":1}""", SigningSecret = null, ClientCertificate = null, UpdatedAt = T0.AddMinutes(5), CreatedAt = T0.AddDays(9) }, Ct);

        Assert.NotNull(updated);
        var read = await Stores.Sources.GetAsync(tenant.Id, source.Id, Ct);
        Assert.Equal(updated, read);
        Assert.Equal(("Cards", "file", (string?)null, (string?)null), (read!.Name, read.Adapter, read.SigningSecret, read.ClientCertificate));
        Assert.Equal(source.CreatedAt, read.CreatedAt);
        Assert.Equal(T0.AddMinutes(5), read.UpdatedAt);
        Assert.Null(await Stores.Sources.UpdateAsync(source with { Id = Guid.NewGuid() }, Ct));
    }

    [Fact]
    public async Task DeleteAsync_RemovesOnce()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank A", Ct);
        var source = await NewSourceAsync(tenant.Id);

        Assert.True(await Stores.Sources.DeleteAsync(tenant.Id, source.Id, Ct));
        Assert.False(await Stores.Sources.DeleteAsync(tenant.Id, source.Id, Ct));
        Assert.Null(await Stores.Sources.GetAsync(tenant.Id, source.Id, Ct));
    }

    [Fact]
    public async Task CreateAsync_UnknownTenant_Throws()
    {
        await Assert.ThrowsAnyAsync<Exception>(() => NewSourceAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task TryUseSignatureAsync_SameSignatureWithinWindow_IsRefusedOnce_ThenFreeAfterExpiry()
    {
        var source = Guid.NewGuid();
        var other = Guid.NewGuid();
        byte[] signature = [1, 2, 3, 4, 5, 6, 7, 8];

        Assert.True(await Stores.Sources.TryUseSignatureAsync(source, signature, T0.AddMinutes(5), T0, Ct));
        Assert.False(await Stores.Sources.TryUseSignatureAsync(source, signature, T0.AddMinutes(6), T0.AddMinutes(1), Ct));
        Assert.False(await Stores.Sources.TryUseSignatureAsync(source, [.. signature], T0.AddMinutes(9), T0.AddMinutes(4), Ct));
        // Another source, or another signature, is independent.
        Assert.True(await Stores.Sources.TryUseSignatureAsync(other, signature, T0.AddMinutes(5), T0, Ct));
        Assert.True(await Stores.Sources.TryUseSignatureAsync(source, [9, 9], T0.AddMinutes(5), T0, Ct));
        // Once expired the record no longer blocks (the timestamp check refuses such requests before this).
        Assert.True(await Stores.Sources.TryUseSignatureAsync(source, signature, T0.AddMinutes(15), T0.AddMinutes(10), Ct));
        Assert.False(await Stores.Sources.TryUseSignatureAsync(source, signature, T0.AddMinutes(16), T0.AddMinutes(11), Ct));
    }

    [Fact]
    public async Task TryUseSignatureAsync_ConcurrentReplays_ExactlyOneWins()
    {
        var source = Guid.NewGuid();
        byte[] signature = [7, 7, 7];

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Stores.Sources.TryUseSignatureAsync(source, signature, T0.AddMinutes(5), T0, Ct)));

        Assert.Equal(1, results.Count(r => r));
    }
}

public sealed class PostgresSourceStoreComplianceTests(PostgresFixture server) : SourceStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() =>
        await PostgresTestBackend.CreateAsync(server, TestContext.Current.CancellationToken);
}

public sealed class SqliteSourceStoreComplianceTests : SourceStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
