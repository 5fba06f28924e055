using System.Collections.Concurrent;
using Herald.Core.Customers;
using Herald.Core.Notifications;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Herald.Storage.Tests;

/// <summary>
/// The consent ledger and keyword settings (issue #16) on every backend: entries append once per keyword message (a
/// vendor's retry is skipped), read newest first with keyset pages and filters, tenant-scoped; the latest entry per
/// address is what routing's view is built from; erasure redacts the address and keeps the fact; the database itself
/// refuses to change or delete an entry; appends are announced on the change feed.
/// </summary>
public abstract class ConsentStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private const string Phone = "+4915112345678";
    private const string OtherPhone = "+4915100000002";

    private int _idTick;

    /// <summary>Runs one statement on the backend's database, bypassing the stores.</summary>
    protected abstract Task ExecuteRawAsync(string sql);

    [Fact]
    public async Task Append_ListsNewestFirst_WithKeysetPagesAndFilters_AndAnotherTenantSeesNothing()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        var a = Entry(tenant, Channel.Sms, Phone, ConsentAction.OptOut, customerId: "ana");
        var b = Entry(tenant, Channel.WhatsApp, Phone, ConsentAction.OptOut);
        var c = Entry(tenant, Channel.Sms, OtherPhone, ConsentAction.OptOut, at: T0.AddHours(1));
        var d = Entry(tenant, Channel.Sms, Phone, ConsentAction.OptIn, customerId: "ana", at: T0.AddHours(2));

        Assert.Equal([true, true, true, true], await Stores.Consents.AppendAsync([new(a), new(b), new(c), new(d)], Ct));
        await Stores.Consents.AppendAsync([new(Entry(other, Channel.Sms, Phone, ConsentAction.OptOut))], Ct);

        Assert.Equal([d, c, b, a], await Stores.Consents.ListAsync(tenant, new ConsentQuery(), Ct));
        var first = await Stores.Consents.ListAsync(tenant, new ConsentQuery(Limit: 2), Ct);
        Assert.Equal([d, c], first);
        Assert.Equal([b, a], await Stores.Consents.ListAsync(tenant, new ConsentQuery(Before: first[^1].Id, Limit: 2), Ct));
        Assert.Equal([d, a], await Stores.Consents.ListAsync(tenant, new ConsentQuery(CustomerId: "ana"), Ct));
        Assert.Equal([d, b, a], await Stores.Consents.ListAsync(tenant, new ConsentQuery(Address: Phone), Ct));
        Assert.Equal([b], await Stores.Consents.ListAsync(tenant, new ConsentQuery(Channel: Channel.WhatsApp), Ct));
        Assert.Equal([d, c], await Stores.Consents.ListAsync(tenant, new ConsentQuery(From: T0.AddHours(1)), Ct));
        Assert.Single(await Stores.Consents.ListAsync(other, new ConsentQuery(), Ct));
        Assert.Empty(await Stores.Consents.ListAsync(await NewTenantAsync(), new ConsentQuery(), Ct));
    }

    [Fact]
    public async Task Append_TheSameKeywordMessageTwice_RecordsItOnce()
    {
        var tenant = await NewTenantAsync();
        var stop = Entry(tenant, Channel.Sms, Phone, ConsentAction.OptOut);

        Assert.Equal([true], await Stores.Consents.AppendAsync([new(stop, "acct:SM1")], Ct));
        Assert.Equal([false, true], await Stores.Consents.AppendAsync(
            [new(stop with { Id = NextId() }, "acct:SM1"), new(Entry(tenant, Channel.Sms, Phone, ConsentAction.OptIn), "acct:SM2")], Ct));

        Assert.Equal(2, (await Stores.Consents.ListAsync(tenant, new ConsentQuery(), Ct)).Count);
    }

    [Fact]
    public async Task Latest_IsTheNewestEntryPerAddressAndType_WhatRoutingHonours()
    {
        var tenant = await NewTenantAsync();
        await Stores.Consents.AppendAsync(
            [
                new(Entry(tenant, Channel.Sms, Phone, ConsentAction.OptOut)),
                new(Entry(tenant, Channel.Sms, Phone, ConsentAction.OptIn)),
                new(Entry(tenant, Channel.Sms, Phone, ConsentAction.OptOut)),
                new(Entry(tenant, Channel.WhatsApp, Phone, ConsentAction.OptOut, type: "marketing")),
                new(Entry(tenant, Channel.Sms, OtherPhone, ConsentAction.OptOut)),
                new(Entry(tenant, Channel.Sms, OtherPhone, ConsentAction.OptIn)),
            ],
            Ct);

        var latest = await Stores.Consents.LatestAsync(tenant, Ct);
        var view = ConsentOptOuts.From(latest);

        Assert.Equal(3, latest.Count);
        Assert.True(view.IsOptedOut(Channel.Sms, Phone, "card.payment"));
        Assert.True(view.IsOptedOut(Channel.WhatsApp, Phone, "marketing"));
        Assert.False(view.IsOptedOut(Channel.WhatsApp, Phone, "card.payment"));
        Assert.False(view.IsOptedOut(Channel.Sms, OtherPhone, "card.payment"));
        Assert.Equal(0, ConsentOptOuts.From(await Stores.Consents.LatestAsync(await NewTenantAsync(), Ct)).Count);
    }

    [Fact]
    public async Task Redact_ReplacesTheAddressOnly_KeepsTheFact_AndASecondRunChangesNothing()
    {
        var tenant = await NewTenantAsync();
        var byCustomer = Entry(tenant, Channel.Email, "ana@example.com", ConsentAction.OptOut, customerId: "ana");
        var byAddress = Entry(tenant, Channel.Sms, Phone, ConsentAction.OptOut);
        var someoneElse = Entry(tenant, Channel.Sms, OtherPhone, ConsentAction.OptOut);
        await Stores.Consents.AppendAsync([new(byCustomer), new(byAddress), new(someoneElse)], Ct);

        Assert.Equal(2, await Stores.Consents.RedactAsync(tenant, "ana", [(Channel.Sms, Phone)], Ct));
        Assert.Equal(0, await Stores.Consents.RedactAsync(tenant, "ana", [(Channel.Sms, Phone)], Ct));

        var entries = await Stores.Consents.ListAsync(tenant, new ConsentQuery(), Ct);
        Assert.Equal([someoneElse, byAddress with { Address = ConsentAddress.Redacted }, byCustomer with { Address = ConsentAddress.Redacted }], entries);
        Assert.Equal(1, ConsentOptOuts.From(await Stores.Consents.LatestAsync(tenant, Ct)).Count);
    }

    [Fact]
    public async Task TheDatabase_RefusesToChangeOrDeleteAnEntry()
    {
        var tenant = await NewTenantAsync();
        var stop = Entry(tenant, Channel.Sms, Phone, ConsentAction.OptOut);
        await Stores.Consents.AppendAsync([new(stop)], Ct);

        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteRawAsync("UPDATE consents SET action = 2"));
        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteRawAsync("UPDATE consents SET address = '+4915100000009'"));
        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteRawAsync("DELETE FROM consents"));
        // The address's sealed columns (issue #17) change only as erasure and the re-encryption change them: not a hash
        // dropped or swapped, not an erasure that keeps the envelope or the hash, not the facts along with them.
        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteRawAsync("UPDATE consents SET address_hash = NULL"));
        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteRawAsync("UPDATE consents SET address_hash = sealed"));
        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteRawAsync("UPDATE consents SET address = '[erased]'"));
        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteRawAsync("UPDATE consents SET address = '[erased]', sealed = NULL"));
        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteRawAsync(
            "UPDATE consents SET address = '[erased]', sealed = NULL, address_hash = NULL, actor = 'someone'"));

        Assert.Equal([stop], await Stores.Consents.ListAsync(tenant, new ConsentQuery(), Ct));
        // Erasure's change is the one allowed.
        await ExecuteRawAsync("UPDATE consents SET address = '[erased]', sealed = NULL, address_hash = NULL");
        Assert.Equal([stop with { Address = ConsentAddress.Redacted }], await Stores.Consents.ListAsync(tenant, new ConsentQuery(), Ct));
    }

    [Fact]
    public async Task Append_IsAnnouncedOnTheChangeFeed_ForTheTenant()
    {
        var heard = new ConcurrentQueue<(Guid Tenant, string Key)>();
        using var subscription = Stores.Changes.Subscribe(new Recording(heard));
        await Stores.Changes.Listening.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        var tenant = await NewTenantAsync();

        await Stores.Consents.AppendAsync([new(Entry(tenant, Channel.Sms, Phone, ConsentAction.OptOut), "acct:SM1")], Ct);
        Assert.Equal([(tenant, "*")], heard);

        // A retry that appends nothing announces nothing.
        heard.Clear();
        await Stores.Consents.AppendAsync([new(Entry(tenant, Channel.Sms, Phone, ConsentAction.OptOut), "acct:SM1")], Ct);
        Assert.Empty(heard);
    }

    [Fact]
    public async Task Append_RecordsItsWebhookEvent_OnceEvenForARetry_AndEvenToAnEndpointFilteringStatuses()
    {
        var tenant = await NewTenantAsync();
        await Stores.Webhooks.CreateEndpointAsync(
            new WebhookEndpoint(NextId(), tenant, "https://bank.example/hook", "enc", [NotificationStatus.Failed], true, null, T0, T0), Ct);
        var stop = Entry(tenant, Channel.Sms, Phone, ConsentAction.OptOut, customerId: "ana");

        await Stores.Consents.AppendAsync([new(stop, "acct:SM1")], Ct);
        await Stores.Consents.AppendAsync([new(stop with { Id = NextId() }, "acct:SM1")], Ct);

        Assert.Equal(1, await Stores.Webhooks.FanOutAsync(100, T0, Ct));
        var claimed = Assert.Single(await Stores.Webhooks.ClaimDeliveriesAsync(10, TimeSpan.FromMinutes(1), T0, Ct));
        Assert.Equal(stop, claimed.Consent);
        Assert.Null(claimed.Message);
        Assert.Equal(WebhookEventStatus.Consent, (short)claimed.Delivery.Status);
        Assert.Equal(Guid.Empty, claimed.Delivery.NotificationId);
    }

    [Fact]
    public async Task KeywordSettings_RoundTrip_NullIsTheDefaults_AndAnUnknownTenantIsNotFound()
    {
        var tenant = await NewTenantAsync();
        var settings = new KeywordSettings(
            [new Keyword("STOP", KeywordAction.OptOut), new Keyword("ALTO", KeywordAction.OptOut, "es", "marketing"), new Keyword("AYUDA", KeywordAction.Help, "es")],
            new Dictionary<string, KeywordTexts> { ["es"] = new("Baja confirmada.", "Alta confirmada.", "Ayuda: 900 000 000") });

        Assert.Equal((true, null), await Stores.Consents.GetKeywordsAsync(tenant, Ct));
        Assert.True(await Stores.Consents.SetKeywordsAsync(tenant, settings, Ct));
        var (found, stored) = await Stores.Consents.GetKeywordsAsync(tenant, Ct);

        Assert.True(found);
        Assert.Equal(settings.Keywords, stored!.Keywords);
        Assert.Equal("Ayuda: 900 000 000", stored.TextsFor("ES").Help);
        Assert.Equal(KeywordAction.OptOut, stored.Match(" alto ")!.Action);
        Assert.True(await Stores.Consents.SetKeywordsAsync(tenant, null, Ct));
        Assert.Equal((true, null), await Stores.Consents.GetKeywordsAsync(tenant, Ct));
        Assert.False((await Stores.Consents.GetKeywordsAsync(Guid.NewGuid(), Ct)).Found);
        Assert.False(await Stores.Consents.SetKeywordsAsync(Guid.NewGuid(), settings, Ct));
    }

    private ConsentEntry Entry(
        Guid tenant, Channel channel, string address, ConsentAction action, string? customerId = null, string? type = null, DateTimeOffset? at = null) =>
        new(NextId(), tenant, customerId, channel, address, type, action, ConsentSource.Keyword, ConsentEntry.CustomerActor, at ?? T0, null);

    private Guid NextId() => Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _idTick)));

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    private sealed class Recording(ConcurrentQueue<(Guid Tenant, string Key)> heard) : IChangeSubscriber
    {
        public string Kind => ChangeKinds.Consents;

        public Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct)
        {
            if (via == ChangeFeed.Local)
            {
                heard.Enqueue((tenantId, key));
            }

            return Task.CompletedTask;
        }

        public Task OnMessagesLostAsync(CancellationToken ct) => Task.CompletedTask;
    }
}

public sealed class PostgresConsentStoreComplianceTests(PostgresFixture server) : ConsentStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);

    protected override async Task ExecuteRawAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(((PostgresTestBackend)Backend).ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }
}

public sealed class SqliteConsentStoreComplianceTests : ConsentStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());

    protected override async Task ExecuteRawAsync(string sql)
    {
        await using var connection = new SqliteConnection("Data Source=" + ((SqliteTestBackend)Backend).DatabasePath);
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }
}
