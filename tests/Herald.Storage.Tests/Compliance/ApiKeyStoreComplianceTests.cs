using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Herald.Storage.Tests;

/// <summary>The API-key part of <see cref="ITenantStore"/> (issue #17), run unchanged on every backend.</summary>
public abstract class ApiKeyStoreComplianceTests : StoreSuite
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static byte[] NewHash() => SHA256.HashData(Guid.NewGuid().ToByteArray());

    private async Task<ApiKey> NewKeyAsync(Guid tenantId, string name, IReadOnlyList<string> roles, DateTimeOffset? expiresAt = null, StoreSet? stores = null) =>
        await (stores ?? Stores).Tenants.CreateApiKeyAsync(new NewApiKey(tenantId, name, roles, null, expiresAt, NewHash(), "hk_" + name[..Math.Min(3, name.Length)]), Ct);

    [Fact]
    public async Task CreateApiKeyAsync_RoundTripsNameExpiryRolesAndSource_InFindAndList()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        var source = Guid.NewGuid();
        var hash = NewHash();
        var expires = TimeProvider.System.GetUtcNow().AddDays(30).AddTicks(1234); // below a millisecond: stored truncated

        var created = await Stores.Tenants.CreateApiKeyAsync(
            new NewApiKey(tenant.Id, "Core banking batch", [Roles.Send, Roles.Viewer], source, expires, hash, "hk_abcdef"), Ct);

        var found = await Stores.Tenants.FindApiKeyAsync(hash, Ct);
        Assert.NotNull(found);
        Assert.Equal("Core banking batch", found.Name);
        Assert.Equal(created.ExpiresAt, found.ExpiresAt);
        Assert.Equal(expires.ToUnixTimeMilliseconds(), found.ExpiresAt!.Value.ToUnixTimeMilliseconds());
        Assert.Equal([Roles.Send, Roles.Viewer], found.Roles);
        Assert.Equal(source, found.SourceId);
        Assert.Null(found.LastUsedAt);
        Assert.Equal(created.CreatedAt, found.CreatedAt);

        var listed = Assert.Single(await Stores.Tenants.ListApiKeysAsync(tenant.Id, Ct));
        Assert.Equal(created.Id, listed.Id);
        Assert.Equal("Core banking batch", listed.Name);
        Assert.Empty(await Stores.Tenants.ListApiKeysAsync(Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task RevokeApiKeyAsync_RefusesTheKey_ListsItRevoked_AndIsIdempotent()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        await NewKeyAsync(tenant.Id, "admin", [Roles.Admin]);
        var hash = NewHash();
        var key = await Stores.Tenants.CreateApiKeyAsync(new NewApiKey(tenant.Id, "sender", [Roles.Send], null, null, hash, "hk_s"), Ct);

        Assert.Equal(ApiKeyRevocation.Revoked, await Stores.Tenants.RevokeApiKeyAsync(tenant.Id, key.Id, keepAnAdminKey: true, Ct));

        Assert.Null(await Stores.Tenants.FindApiKeyAsync(hash, Ct));
        var listed = (await Stores.Tenants.ListApiKeysAsync(tenant.Id, Ct)).Single(k => k.Id == key.Id);
        Assert.NotNull(listed.RevokedAt);
        Assert.Equal(ApiKeyRevocation.Revoked, await Stores.Tenants.RevokeApiKeyAsync(tenant.Id, key.Id, keepAnAdminKey: true, Ct));
        Assert.Equal(listed.RevokedAt, (await Stores.Tenants.ListApiKeysAsync(tenant.Id, Ct)).Single(k => k.Id == key.Id).RevokedAt);
    }

    [Fact]
    public async Task RevokeApiKeyAsync_OtherTenantsKey_IsNotFound_AndChangesNothing()
    {
        var a = await Stores.Tenants.CreateTenantAsync("Bank A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("Bank B", Ct);
        var hash = NewHash();
        var key = await Stores.Tenants.CreateApiKeyAsync(new NewApiKey(a.Id, "a's", [Roles.Send], null, null, hash, "hk_a"), Ct);

        Assert.Equal(ApiKeyRevocation.NotFound, await Stores.Tenants.RevokeApiKeyAsync(b.Id, key.Id, keepAnAdminKey: false, Ct));
        Assert.Equal(ApiKeyRevocation.NotFound, await Stores.Tenants.RevokeApiKeyAsync(a.Id, Guid.NewGuid(), keepAnAdminKey: false, Ct));

        Assert.NotNull(await Stores.Tenants.FindApiKeyAsync(hash, Ct));
    }

    [Fact]
    public async Task RevokeApiKeyAsync_LastUsableAdminKey_IsRefusedWhenKeepingOne_ExpiredAdminsDoNotCount()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        var admin = await NewKeyAsync(tenant.Id, "admin", [Roles.Admin, Roles.Read]);
        await NewKeyAsync(tenant.Id, "expired admin", [Roles.Admin], expiresAt: TimeProvider.System.GetUtcNow().AddMinutes(-1));
        await NewKeyAsync(tenant.Id, "reader", [Roles.Read]);

        Assert.Equal(ApiKeyRevocation.LastAdminKey, await Stores.Tenants.RevokeApiKeyAsync(tenant.Id, admin.Id, keepAnAdminKey: true, Ct));
        Assert.Null((await Stores.Tenants.ListApiKeysAsync(tenant.Id, Ct)).Single(k => k.Id == admin.Id).RevokedAt);

        // With a second admin key the first may go (the rotation); the system key's path may revoke the last one too.
        var second = await NewKeyAsync(tenant.Id, "admin 2", [Roles.Admin]);
        Assert.Equal(ApiKeyRevocation.Revoked, await Stores.Tenants.RevokeApiKeyAsync(tenant.Id, admin.Id, keepAnAdminKey: true, Ct));
        Assert.Equal(ApiKeyRevocation.LastAdminKey, await Stores.Tenants.RevokeApiKeyAsync(tenant.Id, second.Id, keepAnAdminKey: true, Ct));
        Assert.Equal(ApiKeyRevocation.Revoked, await Stores.Tenants.RevokeApiKeyAsync(tenant.Id, second.Id, keepAnAdminKey: false, Ct));
    }

    [Fact]
    public async Task RevokeApiKeyAsync_TwoAdminsRevokingEachOtherAtOnce_LeaveOneAdminKey()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        var first = await NewKeyAsync(tenant.Id, "admin 1", [Roles.Admin]);
        var second = await NewKeyAsync(tenant.Id, "admin 2", [Roles.Admin]);
        await using var other = Backend.Open();

        var outcomes = await Task.WhenAll(
            Task.Run(() => Stores.Tenants.RevokeApiKeyAsync(tenant.Id, first.Id, keepAnAdminKey: true, Ct), Ct),
            Task.Run(() => other.Tenants.RevokeApiKeyAsync(tenant.Id, second.Id, keepAnAdminKey: true, Ct), Ct));

        Assert.Single(outcomes, o => o == ApiKeyRevocation.Revoked);
        Assert.Single(outcomes, o => o == ApiKeyRevocation.LastAdminKey);
        Assert.Single(await Stores.Tenants.ListApiKeysAsync(tenant.Id, Ct), k => k.RevokedAt is null);
    }

    [Fact]
    public async Task TouchApiKeysAsync_RecordsTheLatestUse_AndIgnoresOlderOnes()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        var a = await NewKeyAsync(tenant.Id, "a", [Roles.Send]);
        var b = await NewKeyAsync(tenant.Id, "b", [Roles.Read]);
        var t1 = new DateTimeOffset(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);

        await Stores.Tenants.TouchApiKeysAsync([new(a.Id, t1), new(b.Id, t1.AddMinutes(1)), new(Guid.NewGuid(), t1)], Ct);
        await Stores.Tenants.TouchApiKeysAsync([new(a.Id, t1.AddMinutes(-5))], Ct);
        await Stores.Tenants.TouchApiKeysAsync([], Ct);

        var keys = await Stores.Tenants.ListApiKeysAsync(tenant.Id, Ct);
        Assert.Equal(t1, keys.Single(k => k.Id == a.Id).LastUsedAt);
        Assert.Equal(t1.AddMinutes(1), keys.Single(k => k.Id == b.Id).LastUsedAt);
    }

    [Fact]
    public async Task CreateAndRevoke_AreAnnouncedOnTheChangeFeed_WithTheKeyId()
    {
        var heard = new ConcurrentQueue<(Guid Tenant, string Key)>();
        var subscriber = new Recording(heard);
        using var subscription = Stores.Changes.Subscribe(subscriber);
        await Stores.Changes.Listening.WaitAsync(Deadline, Ct);
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        await NewKeyAsync(tenant.Id, "admin", [Roles.Admin]);

        var key = await NewKeyAsync(tenant.Id, "sender", [Roles.Send]);
        Assert.Contains((tenant.Id, key.Id.ToString("D")), heard);
        heard.Clear();
        await Stores.Tenants.RevokeApiKeyAsync(tenant.Id, key.Id, keepAnAdminKey: true, Ct);
        Assert.Contains((tenant.Id, key.Id.ToString("D")), heard);

        // A refused revocation announces nothing.
        heard.Clear();
        var admin = (await Stores.Tenants.ListApiKeysAsync(tenant.Id, Ct)).Single(k => k.Name == "admin");
        Assert.Equal(ApiKeyRevocation.LastAdminKey, await Stores.Tenants.RevokeApiKeyAsync(tenant.Id, admin.Id, keepAnAdminKey: true, Ct));
        Assert.Empty(heard);
    }

    private sealed class Recording(ConcurrentQueue<(Guid Tenant, string Key)> heard) : IChangeSubscriber
    {
        public string Kind => ChangeKinds.ApiKeys;

        public Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct)
        {
            // The local path (this store's commit) is what a single node relies on; remote paths arrive later.
            if (via == ChangeFeed.Local)
            {
                heard.Enqueue((tenantId, key));
            }

            return Task.CompletedTask;
        }

        public Task OnMessagesLostAsync(CancellationToken ct) => Task.CompletedTask;
    }
}

public sealed class PostgresApiKeyStoreComplianceTests(PostgresFixture server) : ApiKeyStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);

    /// <summary>PostgreSQL carries the announcement to other nodes: a second set of stores (another node) hears the
    /// revocation over LISTEN/NOTIFY, sent inside the revoking transaction.</summary>
    [Fact]
    public async Task Revoke_IsHeardByAnotherNode_OverListenNotify()
    {
        await using var node2 = Backend.Open();
        var heard = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = node2.Changes.Subscribe(new Remote(heard));
        await node2.Changes.Listening.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        var key = await Stores.Tenants.CreateApiKeyAsync(new NewApiKey(tenant.Id, "k", [Roles.Send], null, null, SHA256.HashData([9]), "hk_k"), Ct);

        Assert.Equal(ApiKeyRevocation.Revoked, await Stores.Tenants.RevokeApiKeyAsync(tenant.Id, key.Id, keepAnAdminKey: false, Ct));

        Assert.Equal(key.Id.ToString("D"), await heard.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct));
    }

    private sealed class Remote(TaskCompletionSource<string> heard) : IChangeSubscriber
    {
        private int _count;

        public string Kind => ChangeKinds.ApiKeys;

        public Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct)
        {
            // The first message is the creation; the second the revocation.
            if (via == ChangeFeed.Postgres && Interlocked.Increment(ref _count) == 2)
            {
                heard.TrySetResult(key);
            }

            return Task.CompletedTask;
        }

        public Task OnMessagesLostAsync(CancellationToken ct) => Task.CompletedTask;
    }
}

public sealed class SqliteApiKeyStoreComplianceTests : ApiKeyStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
