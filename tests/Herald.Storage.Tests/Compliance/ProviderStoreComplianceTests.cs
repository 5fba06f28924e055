using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Core.Routing;
using Herald.Storage.Secrets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Herald.Storage.Tests;

/// <summary>The key the test backends' stores encrypt provider settings with.</summary>
public static class TestSecrets
{
    public static readonly ISecretProtector Protector = new AesGcmSecretProtector([RandomNumberGenerator.GetBytes(32)]);
}

/// <summary>
/// Provider pools in the store: price tables, updates, deletion, settings encrypted at rest and cost reports. Runs
/// unchanged on every backend; the subclasses only add a way to read and write the raw settings column.
/// </summary>
public abstract class ProviderStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private const string Secret = "EAAG-very-secret-access-token";

    /// <summary>The settings column of one account, as the database holds it.</summary>
    protected abstract Task<string> ReadRawSettingsAsync(IStoreTestBackend backend, Guid accountId);

    /// <summary>Overwrites the settings column, as a row written before encryption existed.</summary>
    protected abstract Task WriteRawSettingsAsync(IStoreTestBackend backend, Guid accountId, string settings);

    [Fact]
    public async Task CreateAsync_WithPriceTable_RoundTripsPricesExactly()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var prices = new PriceTable("EUR", new Dictionary<string, decimal> { ["*"] = 0.0525m, ["DE"] = 0.071m, ["GB"] = 0.0399m });
        var account = Account(tenant.Id, "sms-a") with { Prices = prices, RatePerSecond = 50 };

        Assert.Equal(account, await Stores.Providers.CreateAsync(account, Ct));

        var read = await Stores.Providers.GetAsync(tenant.Id, account.Id, Ct);
        Assert.NotNull(read);
        Assert.Equal(account, read with { Settings = account.Settings });
        Assert.Equal(prices, read.Prices);
        Assert.Equal(0.071m, read.Prices!.PriceFor("DE"));
        Assert.Equal(0.0525m, read.Prices.PriceFor("FR"));
        Assert.Equal(0.0525m, read.Prices.PriceFor(null));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(account.Settings), JsonNode.Parse(read.Settings)));
    }

    [Fact]
    public async Task CreateManyAsync_StoresAllInOneTransaction_OrNoneWhenOneFails()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var first = Account(tenant.Id, "wa");
        var second = Account(tenant.Id, "sms", T0.AddSeconds(1));

        var created = await Stores.Providers.CreateManyAsync([first, second], Ct);

        Assert.Equal([first.Id, second.Id], created.Select(a => a.Id));
        Assert.Equal([first.Id, second.Id], (await Stores.Providers.ListAsync(tenant.Id, Ct)).Select(a => a.Id));

        // The second row repeats the first one's id: the primary key refuses it, and the new third row goes with it.
        var third = Account(tenant.Id, "email", T0.AddSeconds(2));
        await Assert.ThrowsAnyAsync<Exception>(() => Stores.Providers.CreateManyAsync([third, first], Ct));
        Assert.Null(await Stores.Providers.GetAsync(tenant.Id, third.Id, Ct));
        Assert.Equal(2, (await Stores.Providers.ListAsync(tenant.Id, Ct)).Count);
    }

    [Fact]
    public async Task GetAsync_OtherTenantOrUnknown_ReturnsNull()
    {
        var a = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("B", Ct);
        var account = await Stores.Providers.CreateAsync(Account(a.Id, "wa"), Ct);

        Assert.Null(await Stores.Providers.GetAsync(b.Id, account.Id, Ct));
        Assert.Null(await Stores.Providers.GetAsync(a.Id, Guid.NewGuid(), Ct));
        Assert.NotNull(await Stores.Providers.GetAsync(a.Id, account.Id, Ct));
    }

    [Fact]
    public async Task UpdateAsync_ChangesMutableFieldsOnly_AndNotAcrossTenants()
    {
        var a = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("B", Ct);
        var account = await Stores.Providers.CreateAsync(Account(a.Id, "wa"), Ct);
        var changed = account with
        {
            Name = "renamed",
            Settings = """{"accessToken":"new-token","phoneNumberId":"999"}""",
            Weight = 0,
            Enabled = false,
            RatePerSecond = 3.5,
            Prices = new PriceTable("USD", new Dictionary<string, decimal> { ["*"] = 0.01m }),
            Isolated = true,
        };

        Assert.Null(await Stores.Providers.UpdateAsync(changed with { TenantId = b.Id, Name = "hijack" }, Ct));
        var updated = await Stores.Providers.UpdateAsync(changed with { Channel = Channel.Email, Kind = "smtp", CreatedAt = T0.AddDays(1) }, Ct);

        Assert.NotNull(updated);
        Assert.Equal(changed, updated with { Settings = changed.Settings });
        Assert.Equal(changed, (await Stores.Providers.GetAsync(a.Id, account.Id, Ct))! with { Settings = changed.Settings });
        Assert.Equal("new-token", JsonNode.Parse(updated.Settings)!["accessToken"]!.GetValue<string>());
        Assert.Empty(await Stores.Providers.ListEnabledAsync(Ct));
        Assert.Null(await Stores.Providers.UpdateAsync(changed with { Id = Guid.NewGuid() }, Ct));
    }

    [Fact]
    public async Task DeleteAsync_HidesAccountFromEveryListing_OtherTenantCannot()
    {
        var a = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("B", Ct);
        var keep = await Stores.Providers.CreateAsync(Account(a.Id, "keep"), Ct);
        var gone = await Stores.Providers.CreateAsync(Account(a.Id, "gone", T0.AddSeconds(1)), Ct);

        Assert.Equal(ProviderDeleteResult.NotFound, await Stores.Providers.DeleteAsync(b.Id, gone.Id, Ct));
        Assert.Equal(ProviderDeleteResult.Deleted, await Stores.Providers.DeleteAsync(a.Id, gone.Id, Ct));
        Assert.Equal(ProviderDeleteResult.NotFound, await Stores.Providers.DeleteAsync(a.Id, gone.Id, Ct));

        Assert.Equal([keep.Id], (await Stores.Providers.ListAsync(a.Id, Ct)).Select(p => p.Id));
        Assert.Equal([keep.Id], (await Stores.Providers.ListEnabledAsync(Ct)).Select(p => p.Id));
        Assert.Null(await Stores.Providers.GetAsync(a.Id, gone.Id, Ct));
        Assert.Null(await Stores.Providers.UpdateAsync(gone with { Name = "back" }, Ct));
    }

    [Fact]
    public async Task Settings_AreEncryptedAtRest_RawColumnHoldsNoSecret()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var account = await Stores.Providers.CreateAsync(Account(tenant.Id, "wa"), Ct);

        var raw = await ReadRawSettingsAsync(Backend, account.Id);
        Assert.DoesNotContain(Secret, raw, StringComparison.Ordinal);
        Assert.DoesNotContain("phoneNumberId", raw, StringComparison.Ordinal);
        Assert.True(TestSecrets.Protector.IsProtected(raw));

        await Stores.Providers.UpdateAsync(account with { Settings = account.Settings.Replace(Secret, Secret + "-2", StringComparison.Ordinal) }, Ct);
        raw = await ReadRawSettingsAsync(Backend, account.Id);
        Assert.DoesNotContain(Secret, raw, StringComparison.Ordinal);

        // Bound to the row: the envelope copied to another account does not decrypt there.
        var other = await Stores.Providers.CreateAsync(Account(tenant.Id, "other", T0.AddSeconds(1)), Ct);
        await WriteRawSettingsAsync(Backend, other.Id, raw);
        await Assert.ThrowsAnyAsync<CryptographicException>(() => Stores.Providers.GetAsync(tenant.Id, other.Id, Ct));
    }

    [Fact]
    public async Task Settings_PlaintextRowFromBeforeEncryption_ReadsAndIsEncryptedOnNextWrite()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var account = await Stores.Providers.CreateAsync(Account(tenant.Id, "wa"), Ct);
        await WriteRawSettingsAsync(Backend, account.Id, account.Settings);
        Assert.Contains(Secret, await ReadRawSettingsAsync(Backend, account.Id), StringComparison.Ordinal);

        var legacy = await Stores.Providers.GetAsync(tenant.Id, account.Id, Ct);
        Assert.NotNull(legacy);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(account.Settings), JsonNode.Parse(legacy.Settings)));
        Assert.Single(await Stores.Providers.ListEnabledAsync(Ct));

        await Stores.Providers.UpdateAsync(legacy with { Weight = 7 }, Ct);

        var raw = await ReadRawSettingsAsync(Backend, account.Id);
        Assert.DoesNotContain(Secret, raw, StringComparison.Ordinal);
        Assert.True(TestSecrets.Protector.IsProtected(raw));
    }

    [Fact]
    public async Task GetCostsAsync_GroupsByChannelProviderDay_SumsExactly_PerTenantAndWindow()
    {
        var a = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("B", Ct);
        var eur = new PriceTable("EUR", new Dictionary<string, decimal> { ["*"] = 0.05m });
        var sms1 = await Stores.Providers.CreateAsync(Account(a.Id, "sms-1", channel: Channel.Sms) with { Prices = eur }, Ct);
        var sms2 = await Stores.Providers.CreateAsync(Account(a.Id, "sms-2", T0.AddSeconds(1), Channel.Sms) with { Prices = new PriceTable("USD", new Dictionary<string, decimal> { ["*"] = 0.02m }) }, Ct);
        var wa = await Stores.Providers.CreateAsync(Account(a.Id, "wa", T0.AddSeconds(2)) with { Prices = eur }, Ct);
        var otherTenant = await Stores.Providers.CreateAsync(Account(b.Id, "b-sms", channel: Channel.Sms) with { Prices = eur }, Ct);

        await AttemptsAsync(a.Id, Channel.Sms, sms1, T0, 0.05m, 0.05m, 0.1m);
        await AttemptsAsync(a.Id, Channel.Sms, sms1, T0.AddDays(1), 0.0001m);
        await AttemptsAsync(a.Id, Channel.Sms, sms2, T0.AddHours(1), 0.02m, null);
        await AttemptsAsync(a.Id, Channel.WhatsApp, wa, T0.AddHours(2), 0.0125m);
        await AttemptsAsync(a.Id, Channel.WhatsApp, wa, T0.AddDays(5), 9m); // outside the window
        await AttemptsAsync(a.Id, Channel.WhatsApp, wa, T0.AddMinutes(-1), 9m); // before it
        await AttemptsAsync(b.Id, Channel.Sms, otherTenant, T0, 7m);
        // An attempt that reached no provider costs nothing and is not counted.
        await AttemptsAsync(a.Id, Channel.Sms, null, T0, (decimal?)null);
        // Deleting an account keeps its costs in the report.
        await Stores.Providers.DeleteAsync(a.Id, sms2.Id, Ct);

        var from = T0;
        var to = T0.AddDays(2);
        var totals = await Stores.Providers.GetCostsAsync(new CostQuery(a.Id, from, to, CostGrouping.None), Ct);
        Assert.Equal(
            [new CostTotal(null, null, null, null, "EUR", 5, 0.2126m), new CostTotal(null, null, null, null, "USD", 2, 0.02m)],
            totals);

        var byChannel = await Stores.Providers.GetCostsAsync(new CostQuery(a.Id, from, to, CostGrouping.Channel), Ct);
        Assert.Equal(
            [
                new CostTotal(Channel.WhatsApp, null, null, null, "EUR", 1, 0.0125m),
                new CostTotal(Channel.Sms, null, null, null, "EUR", 4, 0.2001m),
                new CostTotal(Channel.Sms, null, null, null, "USD", 2, 0.02m),
            ],
            byChannel.OrderBy(t => t.Channel != Channel.WhatsApp).ThenBy(t => t.Currency));

        var byProviderDay = await Stores.Providers.GetCostsAsync(new CostQuery(a.Id, from, to, CostGrouping.Provider | CostGrouping.Day), Ct);
        var day0 = DateOnly.FromDateTime(T0.UtcDateTime);
        Assert.Equal(
            new[]
            {
                new CostTotal(null, sms1.Id, "sms-1", day0, "EUR", 3, 0.2m),
                new CostTotal(null, sms2.Id, "sms-2", day0, "USD", 2, 0.02m),
                new CostTotal(null, wa.Id, "wa", day0, "EUR", 1, 0.0125m),
                new CostTotal(null, sms1.Id, "sms-1", day0.AddDays(1), "EUR", 1, 0.0001m),
            }.OrderBy(t => t.Day).ThenBy(t => t.ProviderId!.Value.ToString("D"), StringComparer.Ordinal),
            byProviderDay);

        Assert.Equal([new CostTotal(null, null, null, null, "EUR", 1, 7m)],
            await Stores.Providers.GetCostsAsync(new CostQuery(b.Id, from, to, CostGrouping.None), Ct));
        Assert.Empty(await Stores.Providers.GetCostsAsync(new CostQuery(a.Id, T0.AddDays(10), T0.AddDays(11), CostGrouping.Day), Ct));
    }

    private async Task AttemptsAsync(Guid tenant, Channel channel, ProviderAccount? provider, DateTimeOffset at, params decimal?[] costs)
    {
        foreach (var cost in costs)
        {
            var id = Guid.CreateVersion7(at);
            var request = new NewNotification(tenant, null, "otp", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null);
            await Stores.Notifications.AcceptAsync(
                [new PreparedNotification(id, request, new Route(Priority.Normal, [new RouteStep(channel, WaitFor.Sent, TimeSpan.FromSeconds(30))]))], at, Ct);
            await Stores.Delivery.BeginAttemptsAsync(
                [new Attempt
                {
                    Id = Guid.CreateVersion7(at), NotificationId = id, Step = 0, Channel = channel, ProviderId = provider?.Id,
                    ProviderName = provider?.Name, State = provider is null ? AttemptState.Failed : AttemptState.Sent, Cost = cost,
                    CreatedAt = at, UpdatedAt = at,
                }],
                Ct);
        }
    }

    [Fact]
    public async Task SenderIdentity_OneLiveHolder_SecondCreateOrUpdateRefused_DeleteReleases()
    {
        // Issue #13: a sender identity (here a WhatsApp phone number id) belongs to one account, hence one tenant; the
        // store's unique index decides, so two nodes racing cannot both win.
        var a = (await Stores.Tenants.CreateTenantAsync("A", Ct)).Id;
        var b = (await Stores.Tenants.CreateTenantAsync("B", Ct)).Id;
        var identity = "whatsapp:" + Guid.NewGuid().ToString("N");
        var owner = await Stores.Providers.CreateAsync(Account(a, "owner") with { SenderIdentity = identity }, Ct);
        var other = await Stores.Providers.CreateAsync(Account(b, "other") with { SenderIdentity = "whatsapp:other" + Guid.NewGuid().ToString("N") }, Ct);

        await Assert.ThrowsAsync<SenderIdentityTakenException>(() => Stores.Providers.CreateAsync(Account(b, "thief") with { SenderIdentity = identity }, Ct));
        await Assert.ThrowsAsync<SenderIdentityTakenException>(() => Stores.Providers.CreateManyAsync([Account(b, "thief") with { SenderIdentity = identity }], Ct));
        await Assert.ThrowsAsync<SenderIdentityTakenException>(() => Stores.Providers.UpdateAsync(other with { SenderIdentity = identity }, Ct));
        var racers = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            try
            {
                await Stores.Providers.CreateAsync(Account(i % 2 == 0 ? a : b, "racer") with { SenderIdentity = identity + ":race" }, Ct);
                return true;
            }
            catch (SenderIdentityTakenException)
            {
                return false;
            }
        })));

        Assert.Single(racers, static won => won);
        Assert.Equal(identity, (await Stores.Providers.GetAsync(a, owner.Id, Ct))!.SenderIdentity);
        Assert.Equal(other.SenderIdentity, (await Stores.Providers.GetAsync(b, other.Id, Ct))!.SenderIdentity);
        Assert.DoesNotContain("thief", (await Stores.Providers.ListAsync(b, Ct)).Select(static p => p.Name));
        await Stores.Providers.DeleteAsync(a, owner.Id, Ct);
        var taken = await Stores.Providers.UpdateAsync(other with { SenderIdentity = identity }, Ct);
        Assert.Equal(identity, taken!.SenderIdentity);
        await Stores.Providers.CreateAsync(Account(a, "no identity"), Ct);
        await Stores.Providers.CreateAsync(Account(b, "no identity either"), Ct);
    }

    private static ProviderAccount Account(Guid tenant, string name, DateTimeOffset? at = null, Channel channel = Channel.WhatsApp) =>
        new(Guid.NewGuid(), tenant, channel, channel == Channel.Sms ? "twilio-sms" : "whatsapp-cloud", name,
            $$$"""{"phoneNumberId":"1065","accessToken":"{{{Secret}}}","nested":{"x":[1,2]}}""", 10, true, at ?? T0);
}

public sealed class PostgresProviderStoreComplianceTests(PostgresFixture server) : ProviderStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);

    protected override async Task<string> ReadRawSettingsAsync(IStoreTestBackend backend, Guid accountId)
    {
        await using var connection = new NpgsqlConnection(((PostgresTestBackend)backend).ConnectionString);
        await connection.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand("SELECT settings::text FROM provider_accounts WHERE id = @id", connection);
        cmd.Parameters.AddWithValue("id", accountId);
        return (string)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    protected override async Task WriteRawSettingsAsync(IStoreTestBackend backend, Guid accountId, string settings)
    {
        await using var connection = new NpgsqlConnection(((PostgresTestBackend)backend).ConnectionString);
        await connection.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand("UPDATE provider_accounts SET settings = @s WHERE id = @id", connection);
        cmd.Parameters.AddWithValue("id", accountId);
        cmd.Parameters.AddWithValue("s", settings);
        Assert.Equal(1, await cmd.ExecuteNonQueryAsync(Ct));
    }
}

public sealed class SqliteProviderStoreComplianceTests : ProviderStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());

    protected override async Task<string> ReadRawSettingsAsync(IStoreTestBackend backend, Guid accountId)
    {
        await using var connection = new SqliteConnection(((SqliteTestBackend)backend).ConnectionString);
        await connection.OpenAsync(Ct);
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT settings FROM provider_accounts WHERE id = $id";
        cmd.Parameters.AddWithValue("$id", accountId.ToString("D"));
        return (string)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    protected override async Task WriteRawSettingsAsync(IStoreTestBackend backend, Guid accountId, string settings)
    {
        await using var connection = new SqliteConnection(((SqliteTestBackend)backend).ConnectionString);
        await connection.OpenAsync(Ct);
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "UPDATE provider_accounts SET settings = $s WHERE id = $id";
        cmd.Parameters.AddWithValue("$id", accountId.ToString("D"));
        cmd.Parameters.AddWithValue("$s", settings);
        Assert.Equal(1, await cmd.ExecuteNonQueryAsync(Ct));
    }
}
