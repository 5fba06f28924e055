using Herald.Core.Notifications;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Herald.Storage.Tests;

/// <summary>
/// The audit trail contract (<see cref="IAuditStore"/>, <see cref="AuditScope"/>) on every backend: one hash chain per
/// tenant plus the system chain, verify names the first broken link after an entry is altered, removed or moved with
/// SQL, concurrent appends keep one unbroken chain, and a store write records the request's act in its own transaction.
/// </summary>
public abstract class AuditStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly AuditActor Key = new("key 0190a1b2-0000-7000-8000-000000000001 (hk_abcdef)", Guid.Parse("0190a1b2-0000-7000-8000-000000000001"), "req-1", "203.0.113.7");

    /// <summary>Runs <paramref name="sql"/> on the test's database behind the stores' back, as an intruder would.</summary>
    protected abstract Task ExecuteSqlAsync(string sql);

    [Fact]
    public async Task AppendAsync_ChainsEachTenantSeparately_AndVerifies()
    {
        var a = Guid.CreateVersion7();
        var b = Guid.CreateVersion7();
        var a1 = await Stores.Audit.AppendAsync(Change(a, "webhook.create", "webhook", "w1", """{"after":{"url":"https://a"}}"""), Ct);
        var b1 = await Stores.Audit.AppendAsync(Change(b, "rules.update", "rules", "1", null), Ct);
        var a2 = await Stores.Audit.AppendAsync(Change(a, "webhook.update", "webhook", "w1", """{"before":{"url":"https://a"},"after":{"url":"https://b"}}"""), Ct);
        var s1 = await Stores.Audit.AppendAsync(Change(null, "tenant.create", "tenant", a.ToString()) with { Actor = AuditActor.Herald }, Ct);

        Assert.Equal((1L, AuditHash.Genesis), (a1.Seq, a1.PrevHash));
        Assert.Equal((2L, a1.Hash), (a2.Seq, a2.PrevHash));
        Assert.Equal((1L, AuditHash.Genesis), (b1.Seq, b1.PrevHash));
        Assert.Equal((1L, (Guid?)null), (s1.Seq, s1.TenantId));
        Assert.Equal(AuditHash.Of(a2), a2.Hash);

        var listed = await Stores.Audit.QueryAsync(a, new AuditQuery(), Ct);
        Assert.Equal([a2, a1], listed);
        Assert.Equal(new AuditVerification(true, 2, null, null, null), await Stores.Audit.VerifyAsync(a, Ct));
        Assert.Equal(new AuditVerification(true, 1, null, null, null), await Stores.Audit.VerifyAsync(null, Ct));
        Assert.Equal(new AuditVerification(true, 0, null, null, null), await Stores.Audit.VerifyAsync(Guid.CreateVersion7(), Ct));
        Assert.Equal([s1], await Stores.Audit.QueryAsync(null, new AuditQuery(), Ct));
    }

    [Fact]
    public async Task VerifyAsync_TamperedDiff_NamesTheEntry()
    {
        var (tenant, entries) = await ChainAsync(4);

        await ExecuteSqlAsync($"UPDATE audit_entries SET diff = '{{\"after\":{{\"url\":\"https://evil.example\"}}}}' WHERE tenant_id = '{tenant}' AND seq = 2");

        var result = await Stores.Audit.VerifyAsync(tenant, Ct);
        Assert.False(result.Ok);
        Assert.Equal((2L, entries[1].Id, 1L), (result.FirstBrokenSeq, result.FirstBrokenId, result.Checked));
    }

    [Fact]
    public async Task VerifyAsync_TamperedActorAndRehashed_NamesTheNextEntry()
    {
        // An intruder who recomputes the altered entry's hash still breaks the link to the next entry.
        var (tenant, entries) = await ChainAsync(3);
        var forged = entries[1] with { Actor = "system" };
        forged = forged with { Hash = AuditHash.Of(forged) };

        await ExecuteSqlAsync($"UPDATE audit_entries SET actor = 'system', hash = '{forged.Hash}' WHERE tenant_id = '{tenant}' AND seq = 2");

        var result = await Stores.Audit.VerifyAsync(tenant, Ct);
        Assert.Equal((false, 3L, entries[2].Id), (result.Ok, result.FirstBrokenSeq, result.FirstBrokenId));
    }

    [Fact]
    public async Task VerifyAsync_DeletedEntry_NamesWhereTheChainBreaks()
    {
        var (tenant, entries) = await ChainAsync(4);

        await ExecuteSqlAsync($"DELETE FROM audit_entries WHERE tenant_id = '{tenant}' AND seq = 2");

        var result = await Stores.Audit.VerifyAsync(tenant, Ct);
        Assert.False(result.Ok);
        // Sequence 2 is missing: the entry found in its place is number 3.
        Assert.Equal((2L, entries[2].Id), (result.FirstBrokenSeq, result.FirstBrokenId));
    }

    [Fact]
    public async Task VerifyAsync_DeletedLastEntry_IsFoundByTheHead()
    {
        var (tenant, _) = await ChainAsync(3);

        await ExecuteSqlAsync($"DELETE FROM audit_entries WHERE tenant_id = '{tenant}' AND seq = 3");

        var result = await Stores.Audit.VerifyAsync(tenant, Ct);
        Assert.Equal((false, 2L, 3L, (Guid?)null), (result.Ok, result.Checked, result.FirstBrokenSeq, result.FirstBrokenId));
    }

    [Fact]
    public async Task VerifyAsync_ReorderedEntries_NamesTheFirstOutOfPlace()
    {
        var (tenant, entries) = await ChainAsync(4);

        // Swap entries 2 and 3 by their sequence numbers (through -1: the pair is unique).
        await ExecuteSqlAsync($"UPDATE audit_entries SET seq = -1 WHERE tenant_id = '{tenant}' AND seq = 2");
        await ExecuteSqlAsync($"UPDATE audit_entries SET seq = 2 WHERE tenant_id = '{tenant}' AND seq = 3");
        await ExecuteSqlAsync($"UPDATE audit_entries SET seq = 3 WHERE tenant_id = '{tenant}' AND seq = -1");

        var result = await Stores.Audit.VerifyAsync(tenant, Ct);
        Assert.Equal((false, 2L, entries[2].Id), (result.Ok, result.FirstBrokenSeq, result.FirstBrokenId));
    }

    [Fact]
    public async Task AppendAsync_Concurrent_KeepOneUnbrokenChain()
    {
        var tenant = Guid.CreateVersion7();
        const int Writers = 4;
        const int PerWriter = 15;
        // Separate store sets: separate connection pools (PostgreSQL), so the appends really overlap.
        var sets = Enumerable.Range(0, Writers).Select(_ => Backend.Open()).ToList();
        try
        {
            await Task.WhenAll(sets.Select((set, w) => Task.Run(async () =>
            {
                for (var i = 0; i < PerWriter; i++)
                {
                    await set.Audit.AppendAsync(Change(tenant, "rules.update", "rules", $"{w}-{i}", null), Ct);
                }
            }, Ct)));
        }
        finally
        {
            foreach (var set in sets)
            {
                await set.DisposeAsync();
            }
        }

        Assert.Equal(new AuditVerification(true, Writers * PerWriter, null, null, null), await Stores.Audit.VerifyAsync(tenant, Ct));
        var all = await Stores.Audit.QueryAsync(tenant, new AuditQuery(Limit: 1000), Ct);
        Assert.Equal(Enumerable.Range(1, Writers * PerWriter).Reverse().Select(i => (long)i), all.Select(e => e.Seq));
    }

    [Fact]
    public async Task QueryAsync_FiltersAndPagesByBefore()
    {
        var tenant = Guid.CreateVersion7();
        var other = Key with { Name = "key 0190a1b2-0000-7000-8000-000000000002 (hk_zzzzzz)", KeyId = Guid.Parse("0190a1b2-0000-7000-8000-000000000002") };
        await Stores.Audit.AppendAsync(Change(tenant, "webhook.create", "webhook", "w1", null), Ct);
        await Stores.Audit.AppendAsync(Change(tenant, "webhook.update", "webhook", "w1", null) with { At = T0.AddMinutes(1) }, Ct);
        await Stores.Audit.AppendAsync(Change(tenant, "provider.isolate", "provider", "p1", null) with { At = T0.AddMinutes(2), Actor = other }, Ct);
        await Stores.Audit.AppendAsync(Change(tenant, "webhook.delete", "webhook", "w2", null) with { At = T0.AddMinutes(3) }, Ct);

        async Task<long[]> Seqs(AuditQuery q) => [.. (await Stores.Audit.QueryAsync(tenant, q, Ct)).Select(e => e.Seq)];

        Assert.Equal(new long[] { 4L, 2L, 1L }, await Seqs(new AuditQuery(Resource: "webhook")));
        Assert.Equal(new long[] { 2L, 1L }, await Seqs(new AuditQuery(Resource: "webhook/w1")));
        Assert.Equal(new long[] { 2L }, await Seqs(new AuditQuery(Action: "webhook.update")));
        Assert.Equal(new long[] { 4L, 2L, 1L }, await Seqs(new AuditQuery(Action: "webhook.")));
        Assert.Equal(new long[] { 3L }, await Seqs(new AuditQuery(Actor: other.Name)));
        Assert.Equal(new long[] { 3L }, await Seqs(new AuditQuery(Actor: other.KeyId!.Value.ToString("D"))));
        Assert.Equal(new long[] { 3L, 2L }, await Seqs(new AuditQuery(From: T0.AddMinutes(1), To: T0.AddMinutes(3))));
        Assert.Equal(new long[] { 4L, 3L }, await Seqs(new AuditQuery(Limit: 2)));
        Assert.Equal(new long[] { 2L, 1L }, await Seqs(new AuditQuery(Before: 3, Limit: 2)));
        Assert.Empty(await Seqs(new AuditQuery(Before: 1)));
    }

    [Fact]
    public async Task StoreWrite_InAuditScope_RecordsTheActInItsTransaction()
    {
        var tenant = (await Stores.Tenants.CreateTenantAsync("Bank", Ct)).Id;
        var endpoint = new WebhookEndpoint(Guid.CreateVersion7(), tenant, "https://bank.example/hooks", "whsec_secret", [NotificationStatus.Delivered], true, null, T0, T0);

        // Outside a scope (Herald's own writes, these tests' other suites) nothing is recorded.
        await Stores.Webhooks.CreateEndpointAsync(endpoint with { Id = Guid.CreateVersion7() }, Ct);
        Assert.Empty(await Stores.Audit.QueryAsync(tenant, new AuditQuery(), Ct));

        using (AuditScope.Expect(Change(tenant, "webhook.create", "webhook", endpoint.Id.ToString("D"), null)))
        {
            await Stores.Webhooks.CreateEndpointAsync(endpoint, Ct);
            // The same id again fails: its transaction rolls back, and with it the entry.
            await Assert.ThrowsAnyAsync<Exception>(() => Stores.Webhooks.CreateEndpointAsync(endpoint, Ct));
        }

        using (AuditScope.Expect(Change(tenant, "webhook.delete", "webhook", "missing", null)))
        {
            // Nothing changed, nothing recorded.
            Assert.False(await Stores.Webhooks.DeleteEndpointAsync(tenant, Guid.CreateVersion7(), Ct));
        }

        using (AuditScope.Expect(Change(tenant, "rules.update", "rules", "", null)))
        {
            await Stores.Rules.AppendAsync(new RuleSetChange(tenant, "{}", Key.Name, null, null), T0, Ct);
        }

        var entries = await Stores.Audit.QueryAsync(tenant, new AuditQuery(), Ct);
        Assert.Equal(["rules.update", "webhook.create"], entries.Select(e => e.Action));
        // A created resource's id the act did not know is filled in by the store: the rule-set version.
        Assert.Equal("1", entries[0].ResourceId);
        Assert.True((await Stores.Audit.VerifyAsync(tenant, Ct)).Ok);
    }

    [Fact]
    public async Task PurgeAsync_DeletesTheOldStartOfAChain_WhichStillVerifies_AndRecordsThePurge()
    {
        // Entries at T0+1s … T0+6s; the retention keeps what is younger than T0+4s (now = T0+4s+keep).
        var (tenant, entries) = await ChainAsync(6);
        var (other, _) = await ChainAsync(2);
        var keep = TimeSpan.FromDays(400);
        var now = T0.AddSeconds(4) + keep;

        var deleted = await Stores.Audit.PurgeAsync(now, keep, TimeSpan.Zero, 100, Ct);

        // Three of this chain (1–3) and both of the other (both older than T0+4s).
        Assert.Equal(5, deleted);
        var left = await Stores.Audit.QueryAsync(tenant, new AuditQuery(), Ct);
        Assert.Equal([7L, 6, 5, 4], left.Select(e => e.Seq));
        var purge = left[0];
        Assert.Equal((AuditPurge.Action, AuditActor.System, "1-3", entries[5].Hash), (purge.Action, purge.Actor, purge.ResourceId, purge.PrevHash));
        Assert.Equal(now, purge.At);
        Assert.Equal(new AuditVerification(true, 4, null, null, null) { PurgedThroughSeq = 3 }, await Stores.Audit.VerifyAsync(tenant, Ct));
        Assert.Equal(new AuditVerification(true, 1, null, null, null) { PurgedThroughSeq = 2 }, await Stores.Audit.VerifyAsync(other, Ct));

        // Nothing more is old enough: a second round changes nothing (and appends no second purge entry).
        Assert.Equal(0, await Stores.Audit.PurgeAsync(now, keep, TimeSpan.Zero, 100, Ct));
        Assert.Equal(4, (await Stores.Audit.QueryAsync(tenant, new AuditQuery(), Ct)).Count);
    }

    [Fact]
    public async Task PurgeAsync_InBatches_AndOnlyOnceTheChainIsASlackPastItsRetention()
    {
        var (tenant, _) = await ChainAsync(5);
        var keep = TimeSpan.FromDays(400);
        var slack = TimeSpan.FromDays(1);

        // The oldest entry is past the retention, but not by the slack yet: left alone.
        Assert.Equal(0, await Stores.Audit.PurgeAsync(T0.AddSeconds(10) + keep, keep, slack, 100, Ct));

        var now = T0.AddSeconds(10) + keep + slack;
        Assert.Equal(2, await Stores.Audit.PurgeAsync(now, keep, slack, 2, Ct));
        Assert.Equal(2, await Stores.Audit.PurgeAsync(now, keep, slack, 2, Ct));
        Assert.Equal(1, await Stores.Audit.PurgeAsync(now, keep, slack, 2, Ct));
        Assert.Equal(0, await Stores.Audit.PurgeAsync(now, keep, slack, 2, Ct));

        // Only the three purge entries are left, and they chain from the anchor.
        var left = await Stores.Audit.QueryAsync(tenant, new AuditQuery(), Ct);
        Assert.Equal([AuditPurge.Action, AuditPurge.Action, AuditPurge.Action], left.Select(e => e.Action));
        Assert.Equal(["5-5", "3-4", "1-2"], left.Select(e => e.ResourceId));
        Assert.True((await Stores.Audit.VerifyAsync(tenant, Ct)).Ok);
    }

    [Fact]
    public async Task VerifyAsync_AfterAPurge_AnEntryDeletedBeyondTheAnchor_IsFound()
    {
        // Someone deleting more of the chain's start than the retention did: the first remaining entry no longer
        // follows the anchor.
        var (tenant, entries) = await ChainAsync(6);
        var keep = TimeSpan.FromDays(400);
        await Stores.Audit.PurgeAsync(T0.AddSeconds(3) + keep, keep, TimeSpan.Zero, 100, Ct);

        await ExecuteSqlAsync($"DELETE FROM audit_entries WHERE tenant_id = '{tenant}' AND seq = 3");

        var result = await Stores.Audit.VerifyAsync(tenant, Ct);
        Assert.False(result.Ok);
        Assert.Equal((3L, entries[3].Id, 2L), (result.FirstBrokenSeq, result.FirstBrokenId, result.PurgedThroughSeq));
    }

    private async Task<(Guid Tenant, List<AuditEntry> Entries)> ChainAsync(int count)
    {
        var tenant = Guid.CreateVersion7();
        var entries = new List<AuditEntry>();
        for (var i = 1; i <= count; i++)
        {
            entries.Add(await Stores.Audit.AppendAsync(
                Change(tenant, "webhook.update", "webhook", "w1", $$$"""{"after":{"url":"https://bank.example/{{{i}}}"}}""") with { At = T0.AddSeconds(i) }, Ct));
        }

        Assert.True((await Stores.Audit.VerifyAsync(tenant, Ct)).Ok);
        return (tenant, entries);
    }

    private static AuditChange Change(Guid? tenant, string action, string type, string id, string? diff = null) =>
        new(tenant, T0, Key, action, type, id, diff);
}

public sealed class PostgresAuditStoreComplianceTests(PostgresFixture server) : AuditStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(((PostgresTestBackend)Backend).ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }
}

public sealed class SqliteAuditStoreComplianceTests : AuditStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={((SqliteTestBackend)Backend).DatabasePath};Pooling=False");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }
}
