using System.Security.Cryptography;
using Herald.Core.Customers;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Testing;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Herald.Storage.Tests;

/// <summary>
/// Encryption at rest (issue #17) on every backend: notifications' contacts and data, customer messages' senders and
/// texts and customers' documents are stored sealed with the tenant's data key (nothing of them in any raw column of
/// the database); a sealed value moved to another row does not decrypt; look-ups by phone, email and sender go through
/// the keyed hashes; rows written before the migration (plaintext) stay readable and findable; a rotated data key
/// encrypts new rows while the old version still opens old ones.
/// </summary>
public abstract class EncryptionAtRestComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly Guid Account = new("0190a000-0000-7000-8000-0000000000b1");

    private int _tick;

    /// <summary>Every row of every table as text, as a backup or a copied data folder holds it.</summary>
    protected Task<string> DumpAsync() => RawBackend.DumpAsync(Backend);

    /// <summary>Runs raw SQL on the test database (what an attacker with write access, or an old build, does).</summary>
    protected Task ExecuteAsync(string sql) => RawBackend.ExecuteAsync(Backend, sql, Ct);

    /// <summary>A count read behind the stores' back.</summary>
    protected Task<long> CountAsync(string sql) => RawBackend.CountAsync(Backend, sql, Ct);

    /// <summary>The backend's SQL literal of <c>T0</c> for a raw insert into <c>recorded_at</c>.</summary>
    protected abstract string RecordedAtSql { get; }

    [Fact]
    public async Task CustomerValues_AreStoredSealed_AndReadBackInPlaintext()
    {
        var tenant = await NewTenantAsync();
        var phone = UniquePhone();
        var email = $"secret-{Guid.NewGuid():N}@example.com";
        var id = await AcceptAsync(tenant, new Contacts(Phone: phone, Email: email, Language: "de"), """{"text":"Paid 71.15 at Secret Shop"}""");
        var customer = new Customer { Id = "c-sealed", Contacts = new Contacts(Phone: phone, Email: email), Attributes = new Dictionary<string, string> { ["name"] = "Ana Secretname" } };
        await Stores.Customers.UpsertAsync(tenant, customer, Ct);
        var message = Message(tenant, phone, "Private Reply text");
        await Stores.Messages.AddAsync([message], Ct);

        var dump = await DumpAsync();

        foreach (var secret in new[] { phone[1..], email, "Secret Shop", "Secretname", "Private Reply" })
        {
            Assert.DoesNotContain(secret, dump, StringComparison.Ordinal);
        }

        var stored = await Stores.Notifications.GetAsync(tenant, id, Ct);
        Assert.Equal(new Contacts(Phone: phone, Email: email, Language: "de"), stored!.Contacts);
        Assert.Equal("""{"text":"Paid 71.15 at Secret Shop"}""", stored.DataJson);
        var storedCustomer = await Stores.Customers.GetAsync(tenant, "c-sealed", Ct);
        Assert.Equal(customer.Contacts, storedCustomer!.Contacts);
        Assert.Equal("Ana Secretname", storedCustomer.Attributes["name"]);
        Assert.Equal(message, Assert.Single(await Stores.Messages.ListConversationAsync(tenant, "nobody", [phone], null, 10, Ct)));
    }

    [Fact]
    public async Task SealedValue_MovedToAnotherRow_DoesNotDecrypt()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        var source = await AcceptAsync(tenant, new Contacts(Phone: UniquePhone()), """{"text":"mine"}""");
        var sameTenant = await AcceptAsync(tenant, new Contacts(Phone: UniquePhone()), """{"text":"other row"}""");
        var otherTenant = await AcceptAsync(other, new Contacts(Phone: UniquePhone()), """{"text":"other tenant"}""");

        await ExecuteAsync($"UPDATE notifications SET sealed = (SELECT sealed FROM notifications WHERE id = '{source}') WHERE id IN ('{sameTenant}', '{otherTenant}')");

        Assert.NotNull(await Stores.Notifications.GetAsync(tenant, source, Ct));
        await Assert.ThrowsAnyAsync<CryptographicException>(() => Stores.Notifications.GetAsync(tenant, sameTenant, Ct));
        await Assert.ThrowsAnyAsync<CryptographicException>(() => Stores.Notifications.GetAsync(other, otherTenant, Ct));
    }

    [Fact]
    public async Task ErasureByPhoneOrEmail_FindsSealedRowsByHash_AndLeavesNothingOfThem()
    {
        var tenant = await NewTenantAsync();
        var phone = UniquePhone();
        var email = $"erase-{Guid.NewGuid():N}@example.com";
        var byPhone = await AcceptAsync(tenant, new Contacts(Phone: phone, Language: "en"), """{"text":"Erase 1"}""");
        var byEmail = await AcceptAsync(tenant, new Contacts(Email: email.ToUpperInvariant()), """{"text":"Erase 2"}""");
        var kept = await AcceptAsync(tenant, new Contacts(Phone: UniquePhone()), """{"text":"Kept 3"}""");
        await Stores.Messages.AddAsync([Message(tenant, phone, "Erase 4")], Ct);

        Assert.Equal([byPhone], await Stores.Erasure.InFlightAsync(tenant, new ErasureTarget(null, phone, null), 10, Ct));
        var (redactedByPhone, _) = await Stores.Erasure.RedactAsync(tenant, new ErasureTarget(null, phone, null), null, 10, Ct);
        // The email is matched normalised (trimmed, lower-cased), as hashed.
        var (redactedByEmail, _) = await Stores.Erasure.RedactAsync(tenant, new ErasureTarget(null, null, email), null, 10, Ct);
        var messages = await Stores.Erasure.RedactMessagesAsync(tenant, new ErasureTarget(null, phone, null), Ct);

        Assert.Equal((1, 1, 1), (redactedByPhone, redactedByEmail, messages));
        var erased = await Stores.Notifications.GetAsync(tenant, byPhone, Ct);
        Assert.Equal(new Contacts(Phone: IErasureStore.Marker, Language: "en"), erased!.Contacts);
        Assert.Equal($$"""{"text":"{{IErasureStore.Marker}}"}""", erased.DataJson.Replace(" ", "", StringComparison.Ordinal));
        Assert.Equal(new Contacts(Email: IErasureStore.Marker), (await Stores.Notifications.GetAsync(tenant, byEmail, Ct))!.Contacts);
        Assert.Equal("""{"text":"Kept 3"}""", (await Stores.Notifications.GetAsync(tenant, kept, Ct))!.DataJson);
        var dump = await DumpAsync();
        Assert.DoesNotContain("Erase", dump, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlaintextRowsFromBeforeTheMigration_StayReadable_AndFindable()
    {
        var tenant = await NewTenantAsync();
        var phone = UniquePhone();
        var id = await AcceptAsync(tenant, new Contacts(Phone: "+4915100000000"), "{}", [new NotificationAction("yes", "Yes")]);
        await Stores.Delivery.BeginAttemptsAsync([Attempt(id)], Ct);
        // As an earlier build wrote it: plaintext columns, no envelope, no hashes.
        await ExecuteAsync(
            $"UPDATE notifications SET sealed = NULL, phone_hash = NULL, email_hash = NULL, " +
            $"contacts = '{{\"phone\":\"{phone}\"}}', data = '{{\"text\":\"legacy\"}}' WHERE id = '{id}'");

        var stored = await Stores.Notifications.GetAsync(tenant, id, Ct);

        Assert.Equal(phone, stored!.Contacts.Phone);
        Assert.Equal("""{"text":"legacy"}""", stored.DataJson.Replace(" ", "", StringComparison.Ordinal));
        Assert.Equal(id, (await Stores.Messages.FindOpenQuestionAsync(tenant, Account, Channel.Sms, phone, T0, Ct))?.Id);
        Assert.Equal([id], await Stores.Erasure.InFlightAsync(tenant, new ErasureTarget(null, phone, null), 10, Ct));
    }

    [Fact]
    public async Task RotatedDataKey_EncryptsNewRows_AndOldRowsStillOpen()
    {
        var tenant = await NewTenantAsync();
        var before = await AcceptAsync(tenant, new Contacts(Phone: UniquePhone()), """{"v":1}""");

        Assert.Equal(2, await Stores.Keys.RotateAsync(tenant, Ct));
        var after = await AcceptAsync(tenant, new Contacts(Phone: UniquePhone()), """{"v":2}""");

        // Another process (a second node) with an empty cache reads both versions.
        await using var second = Backend.Open();
        Assert.Equal("""{"v":1}""", (await second.Notifications.GetAsync(tenant, before, Ct))!.DataJson);
        Assert.Equal("""{"v":2}""", (await second.Notifications.GetAsync(tenant, after, Ct))!.DataJson);
        Assert.Equal(2, (await second.Keys.ForWriteAsync(tenant, Ct)).CurrentVersion);
    }

    [Fact]
    public async Task ConsentLedger_StoresNoAddressInPlaintext_AndIsFoundByItsHash()
    {
        var tenant = await NewTenantAsync();
        var phone = UniquePhone();
        var email = $"consent-{Guid.NewGuid():N}@example.com";
        var stop = Consent(tenant, Channel.Sms, phone, ConsentAction.OptOut);
        var mail = Consent(tenant, Channel.Email, email, ConsentAction.OptOut, "marketing");
        var other = Consent(tenant, Channel.Sms, UniquePhone(), ConsentAction.OptOut);
        await Stores.Consents.AppendAsync([new(stop), new(mail), new(other)], Ct);

        var dump = await DumpAsync();

        Assert.DoesNotContain(phone[1..], dump, StringComparison.Ordinal);
        Assert.DoesNotContain(email, dump, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM consents WHERE tenant_id = '{tenant}' AND (address <> '' OR sealed IS NULL OR address_hash IS NULL)"));
        Assert.Equal([stop], await Stores.Consents.ListAsync(tenant, new ConsentQuery(Address: phone), Ct));
        Assert.Equal([mail], await Stores.Consents.ListAsync(tenant, new ConsentQuery(Address: email), Ct));
        Assert.Empty(await Stores.Consents.ListAsync(await NewTenantAsync(), new ConsentQuery(Address: phone), Ct));
        var view = ConsentOptOuts.From(await Stores.Consents.LatestAsync(tenant, Ct));
        Assert.True(view.IsOptedOut(Channel.Sms, phone, "card.payment"));
        Assert.True(view.IsOptedOut(Channel.Email, email, "marketing"));
        Assert.Equal(3, view.Count);
    }

    [Fact]
    public async Task ConsentLedger_Erasure_LeavesNeitherTheAddressNorItsHash_SoNothingConfirmsTheNumber()
    {
        var tenant = await NewTenantAsync();
        var phone = UniquePhone();
        var kept = Consent(tenant, Channel.Sms, UniquePhone(), ConsentAction.OptOut);
        await Stores.Consents.AppendAsync([new(Consent(tenant, Channel.Sms, phone, ConsentAction.OptOut)), new(kept)], Ct);

        Assert.Equal(1, await Stores.Consents.RedactAsync(tenant, null, [(Channel.Sms, phone)], Ct));

        // Asking the ledger for the erased number finds nothing: a kept hash would confirm it was there.
        Assert.Empty(await Stores.Consents.ListAsync(tenant, new ConsentQuery(Address: phone), Ct));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM consents WHERE tenant_id = '{tenant}' AND address = '[erased]' AND sealed IS NULL AND address_hash IS NULL"));
        Assert.Equal([kept], await Stores.Consents.ListAsync(tenant, new ConsentQuery(Address: kept.Address), Ct));
        Assert.DoesNotContain(phone[1..], await DumpAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConsentLedger_PlaintextEntriesFromBefore_StayReadable_FindableAndErasable_AndTheNewestEntryWins()
    {
        var tenant = await NewTenantAsync();
        var phone = UniquePhone();
        // As an earlier build wrote it: the address in plaintext, no envelope, no hash (inserting is what the ledger allows).
        var legacy = Consent(tenant, Channel.Sms, phone, ConsentAction.OptOut);
        await ExecuteAsync(
            "INSERT INTO consents (id, tenant_id, channel, address, action, source, actor, recorded_at) VALUES " +
            $"('{legacy.Id}', '{tenant}', {(int)Channel.Sms}, '{phone}', {(int)ConsentAction.OptOut}, {(int)ConsentSource.Keyword}, 'customer', {RecordedAtSql})");
        var optIn = Consent(tenant, Channel.Sms, phone, ConsentAction.OptIn);
        await Stores.Consents.AppendAsync([new(optIn)], Ct);

        Assert.Equal(phone, (await Stores.Consents.ListAsync(tenant, new ConsentQuery(), Ct))[^1].Address);
        Assert.Equal(2, (await Stores.Consents.ListAsync(tenant, new ConsentQuery(Address: phone), Ct)).Count);
        // The sealed opt-in is newer than the plaintext opt-out: routing sees one entry, the opt-in.
        Assert.Equal([optIn], await Stores.Consents.LatestAsync(tenant, Ct));

        Assert.Equal(2, await Stores.Consents.RedactAsync(tenant, null, [(Channel.Sms, phone)], Ct));
        Assert.DoesNotContain(phone[1..], await DumpAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProviderErrorTexts_KeepWhatWentWrong_ButNotTheContactsVendorsEcho()
    {
        var tenant = await NewTenantAsync();
        var phone = UniquePhone();
        var email = $"bounce-{Guid.NewGuid():N}@example.com";
        var id = await AcceptAsync(tenant, new Contacts(Phone: phone), "{}");
        await Stores.Delivery.BeginAttemptsAsync([Attempt(id) with { State = AttemptState.Failed, Error = $"{phone} is not a WhatsApp user" }], Ct);
        await Stores.Delivery.SavePendingReceiptAsync(
            new PendingReceipt(Account, "pm-" + Guid.NewGuid().ToString("N"), ReceiptState.Failed, "550", $"550 <{email}>: unknown", T0), Ct);

        var dump = await DumpAsync();

        Assert.DoesNotContain(phone[1..], dump, StringComparison.Ordinal);
        Assert.DoesNotContain(email, dump, StringComparison.Ordinal);
        Assert.Contains("[redacted] is not a WhatsApp user", dump, StringComparison.Ordinal);
    }

    private static string UniquePhone() => "+49151" + RandomNumberGenerator.GetInt32(10_000_000, 99_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private ConsentEntry Consent(Guid tenant, Channel channel, string address, ConsentAction action, string? type = null) =>
        new(NextId(), tenant, null, channel, address, type, action, ConsentSource.Keyword, ConsentEntry.CustomerActor, T0, null);

    private CustomerMessage Message(Guid tenant, string from, string text) => new(
        NextId(), tenant, Account, Channel.Sms, from, "pm-" + Guid.NewGuid().ToString("N"), null, null, text, false, null, T0);

    private Guid NextId() => Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _tick)));

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    private async Task<Guid> AcceptAsync(Guid tenant, Contacts contacts, string data, NotificationAction[]? actions = null)
    {
        var route = new Route(Priority.Normal, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]);
        var request = new NewNotification(tenant, null, "card.transaction", null, contacts, data, null, null, null, null, null)
        {
            Actions = actions ?? [],
            ReplyTtl = actions is null ? null : TimeSpan.FromHours(1),
        };
        return Assert.Single(await Stores.Notifications.AcceptAsync([new PreparedNotification(NextId(), request, route)], T0, Ct)).Id;
    }

    private Attempt Attempt(Guid notificationId) => new()
    {
        Id = NextId(),
        NotificationId = notificationId,
        Step = 0,
        Channel = Channel.Sms,
        ProviderId = Account,
        ProviderName = "sandbox-sms",
        State = AttemptState.Sending,
        CreatedAt = T0,
        UpdatedAt = T0,
    };
}

public sealed class PostgresEncryptionAtRestComplianceTests(PostgresFixture server) : EncryptionAtRestComplianceTests
{
    protected override string RecordedAtSql => "'2030-01-01T08:00:00Z'";

    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);

}

public sealed class SqliteEncryptionAtRestComplianceTests : EncryptionAtRestComplianceTests
{
    protected override string RecordedAtSql => "1893484800000";

    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());

}

/// <summary>
/// Re-encryption (issue #17, <c>herald reencrypt</c>) on every backend, with a few thousand rows: plaintext rows from
/// before encryption at rest are sealed and become findable by hash; a stopped run resumes after its last batch; after
/// a tenant key rotation every row moves to the new data key version, and old and new rows read back the same.
/// </summary>
public abstract class ReencryptionComplianceTests : StoreSuite
{
    private const int Rows = 3000;
    private const int Batch = 500;
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private const string Phone = "+4915187654321";

    private int _tick;

    protected Task ExecuteAsync(string sql) => RawBackend.ExecuteAsync(Backend, sql, Ct);

    protected Task<string> DumpAsync() => RawBackend.DumpAsync(Backend);

    /// <summary>How many notifications are sealed with data key <paramref name="version"/>.</summary>
    protected abstract Task<long> SealedWithAsync(int version);

    [Fact]
    public async Task Reencrypt_PlaintextRows_AreSealed_Resumably_AndFindableByHash()
    {
        var tenant = await SeedAsync();
        await ExecuteAsync(
            "UPDATE notifications SET sealed = NULL, phone_hash = NULL, email_hash = NULL, " +
            $"contacts = '{{\"phone\":\"{Phone}\"}}', data = '{{\"text\":\"Legacy Plain Text\"}}'");
        await Stores.Customers.UpsertAsync(tenant, new Core.Customers.Customer { Id = "c1", Contacts = new Contacts(Phone: Phone) }, Ct);
        await ExecuteAsync($"UPDATE customers SET sealed = NULL, document = '{{\"phone\":\"{Phone}\"}}'");
        Assert.Contains("Legacy Plain Text", await DumpAsync(), StringComparison.Ordinal);

        // One batch, then the run stops (a crash, a deploy); the next run resumes after it.
        var first = await Stores.Reencryption.RunBatchAsync(ReencryptionTable.Notifications, Batch, Ct);
        var report = await Stores.Reencryptor.RunAsync(null, Batch, null, Ct);

        Assert.Equal((Batch, Batch, false), (first.Scanned, first.Rewritten, first.Done));
        Assert.Equal((Rows - Batch, Rows - Batch), report.Tables[ReencryptionTable.Notifications]);
        Assert.Equal((1L, 1L), report.Tables[ReencryptionTable.Customers]);
        var dump = await DumpAsync();
        Assert.DoesNotContain("Legacy Plain Text", dump, StringComparison.Ordinal);
        Assert.DoesNotContain(Phone[1..], dump, StringComparison.Ordinal);
        Assert.Equal(Rows, await SealedWithAsync(1));
        Assert.Equal(Rows, (await Stores.Erasure.InFlightAsync(tenant, new ErasureTarget(null, Phone, null), Rows + 1, Ct)).Count);
        Assert.Equal(Phone, (await Stores.Customers.GetAsync(tenant, "c1", Ct))!.Contacts.Phone);
        // A second run finds nothing left to do.
        Assert.Equal((long)Rows, (await Stores.Reencryptor.RunAsync(null, Batch, null, Ct)).Tables[ReencryptionTable.Notifications].Scanned);
        Assert.Equal(0L, (await Stores.Reencryptor.RunAsync(null, Batch, null, Ct)).Tables[ReencryptionTable.Notifications].Rewritten);
    }

    [Fact]
    public async Task Reencrypt_AfterRotation_MovesEveryRowToTheNewVersion()
    {
        var tenant = await SeedAsync();
        var sample = (await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(Limit: 1), Ct))[0];

        var report = await Stores.Reencryptor.RunAsync([tenant], Batch, null, Ct);

        Assert.Equal([2], report.RotatedTo);
        Assert.Equal(((long)Rows, (long)Rows), report.Tables[ReencryptionTable.Notifications]);
        Assert.Equal(Rows, await SealedWithAsync(2));
        await using var fresh = Backend.Open();
        Assert.Equal(sample.DataJson, (await fresh.Notifications.GetAsync(tenant, sample.Id, Ct))!.DataJson);
        Assert.Equal(Phone, (await fresh.Notifications.GetAsync(tenant, sample.Id, Ct))!.Contacts.Phone);
    }

    [Fact]
    public async Task Reencrypt_ConsentLedger_SealsPlaintextEntries_LeavesErasedOnes_AndReSealsAfterRotation()
    {
        var tenant = (await Stores.Tenants.CreateTenantAsync("Bank", Ct)).Id;
        var at = Backend is SqliteTestBackend ? "1893484800000" : "'2030-01-01T08:00:00Z'";
        // As an earlier build wrote them: addresses in plaintext, no envelope, no hash; one erased already.
        foreach (var (channel, address) in new[] { (Channel.Sms, Phone), (Channel.WhatsApp, Phone), (Channel.Sms, "[erased]") })
        {
            await ExecuteAsync(
                "INSERT INTO consents (id, tenant_id, channel, address, action, source, actor, recorded_at) VALUES " +
                $"('{Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _tick)))}', '{tenant}', {(int)channel}, '{address}', " +
                $"{(int)ConsentAction.OptOut}, {(int)ConsentSource.Keyword}, 'customer', {at})");
        }

        var report = await Stores.Reencryptor.RunAsync(null, 2, null, Ct);

        Assert.Equal((3L, 2L), report.Tables[ReencryptionTable.Consents]);
        Assert.DoesNotContain(Phone[1..], await DumpAsync(), StringComparison.Ordinal);
        Assert.Equal(2, (await Stores.Consents.ListAsync(tenant, new ConsentQuery(Address: Phone), Ct)).Count);
        Assert.Equal(0L, (await Stores.Reencryptor.RunAsync(null, 2, null, Ct)).Tables[ReencryptionTable.Consents].Rewritten);

        var rotated = await Stores.Reencryptor.RunAsync([tenant], 2, null, Ct);

        Assert.Equal((3L, 2L), rotated.Tables[ReencryptionTable.Consents]);
        await using var fresh = Backend.Open();
        var entries = await fresh.Consents.ListAsync(tenant, new ConsentQuery(Address: Phone), Ct);
        Assert.Equal([Phone, Phone], entries.Select(e => e.Address));
        Assert.Equal(2, await fresh.Consents.RedactAsync(tenant, null, [(Channel.Sms, Phone), (Channel.WhatsApp, Phone)], Ct));
    }

    private async Task<Guid> SeedAsync()
    {
        var tenant = (await Stores.Tenants.CreateTenantAsync("Bank", Ct)).Id;
        var route = new Route(Priority.Normal, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]);
        for (var i = 0; i < Rows; i += Batch)
        {
            var items = Enumerable.Range(i, Batch).Select(n => new PreparedNotification(
                Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _tick))),
                new NewNotification(tenant, null, "card.transaction", null, new Contacts(Phone: Phone), $$"""{"n":{{n}}}""", null, null, null, null, null),
                route)).ToList();
            await Stores.Notifications.AcceptAsync(items, T0, Ct);
        }

        return tenant;
    }
}

public sealed class PostgresReencryptionComplianceTests(PostgresFixture server) : ReencryptionComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);

    protected override async Task<long> SealedWithAsync(int version)
    {
        await using var connection = new NpgsqlConnection(((PostgresTestBackend)Backend).ConnectionString);
        await connection.OpenAsync(Ct);
        // The envelope's bytes 1..4: the data key version, big-endian.
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM notifications WHERE substring(sealed FROM 2 FOR 4) = '\\x{version:x8}'::bytea", connection);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}

public sealed class SqliteReencryptionComplianceTests : ReencryptionComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());

    protected override Task<long> SealedWithAsync(int version)
    {
        using var connection = new SqliteConnection(((SqliteTestBackend)Backend).ConnectionString + ";Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM notifications WHERE hex(substr(sealed, 2, 4)) = '{version:X8}'";
        return Task.FromResult((long)command.ExecuteScalar()!);
    }
}

/// <summary>The test database behind the stores' back, as a backup or an intruder with SQL sees it.</summary>
internal static class RawBackend
{
    public static Task<string> DumpAsync(IStoreTestBackend backend) => backend switch
    {
        PostgresTestBackend postgres => DatabaseDump.PostgresAsync(postgres.ConnectionString),
        SqliteTestBackend sqlite => Task.FromResult(DatabaseDump.Sqlite(sqlite.ConnectionString)),
        _ => throw new NotSupportedException(backend.GetType().Name),
    };

    /// <summary>The first column of the first row of <paramref name="sql"/>, as a long.</summary>
    public static async Task<long> CountAsync(IStoreTestBackend backend, string sql, CancellationToken ct)
    {
        switch (backend)
        {
            case PostgresTestBackend postgres:
                await using (var connection = new NpgsqlConnection(postgres.ConnectionString))
                {
                    await connection.OpenAsync(ct);
                    await using var command = new NpgsqlCommand(sql, connection);
                    return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
                }

            case SqliteTestBackend sqlite:
                using (var connection = new SqliteConnection(sqlite.ConnectionString + ";Pooling=False"))
                {
                    connection.Open();
                    using var command = connection.CreateCommand();
                    command.CommandText = sql;
                    return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
                }

            default:
                throw new NotSupportedException(backend.GetType().Name);
        }
    }

    public static async Task ExecuteAsync(IStoreTestBackend backend, string sql, CancellationToken ct)
    {
        switch (backend)
        {
            case PostgresTestBackend postgres:
                await using (var connection = new NpgsqlConnection(postgres.ConnectionString))
                {
                    await connection.OpenAsync(ct);
                    await using var command = new NpgsqlCommand(sql, connection);
                    await command.ExecuteNonQueryAsync(ct);
                }

                break;
            case SqliteTestBackend sqlite:
                using (var connection = new SqliteConnection(sqlite.ConnectionString + ";Pooling=False"))
                {
                    connection.Open();
                    using var command = connection.CreateCommand();
                    command.CommandText = sql;
                    command.ExecuteNonQuery();
                }

                break;
            default:
                throw new NotSupportedException(backend.GetType().Name);
        }
    }
}
