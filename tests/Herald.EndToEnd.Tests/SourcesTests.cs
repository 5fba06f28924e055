using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Ingest.Signing;
using Herald.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>Sources on PostgreSQL.</summary>
public sealed class PostgresSourcesTests(PostgresSourcesHostFixture fixture) : SourcesTests(() => fixture.Host), IClassFixture<PostgresSourcesHostFixture>
{
    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var command = fixture.Host.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task<long> CountAsync(string sql)
    {
        await using var command = fixture.Host.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    // A statement-level trigger: every insert into notifications fails, as when the database goes away mid-file.
    protected override string FailInsertsSql =>
        """
        CREATE FUNCTION herald_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
        CREATE TRIGGER herald_test_fail BEFORE INSERT ON notifications FOR EACH STATEMENT EXECUTE FUNCTION herald_test_fail();
        """;

    protected override string HealSql => "DROP TRIGGER herald_test_fail ON notifications; DROP FUNCTION herald_test_fail();";
}

/// <summary>Sources on the embedded SQLite backend.</summary>
public sealed class SqliteSourcesTests(SqliteSourcesHostFixture fixture) : SourcesTests(() => fixture.Host), IClassFixture<SqliteSourcesHostFixture>
{
    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={fixture.DatabasePath};Default Timeout=30");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task<long> CountAsync(string sql)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={fixture.DatabasePath};Default Timeout=30");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    protected override string FailInsertsSql =>
        "CREATE TRIGGER herald_test_fail BEFORE INSERT ON notifications BEGIN SELECT RAISE(ABORT, 'injected failure'); END;";

    protected override string HealSql => "DROP TRIGGER herald_test_fail;";
}

/// <summary>A host that trusts the loopback address as its TLS-terminating proxy (client-certificate header).</summary>
public sealed class PostgresSourcesHostFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public HeraldHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var database = await postgres.CreateDatabaseAsync("e2e_src_" + Guid.NewGuid().ToString("N")[..12]);
        Host = await HeraldHost.StartAsync(HeraldRole.All, SourcesTests.Settings(HeraldHost.BaseSettings(database)));
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

public sealed class SqliteSourcesHostFixture : IAsyncLifetime
{
    private readonly TempFolder _folder = new();

    public HeraldHost Host { get; private set; } = null!;

    public string DatabasePath => Path.Combine(_folder.Path, "herald.db");

    public async ValueTask InitializeAsync() =>
        Host = await HeraldHost.StartAsync(HeraldRole.All, SourcesTests.Settings(HeraldHost.SqliteSettings(_folder.Path)));

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        _folder.Dispose();
    }
}

/// <summary>
/// Bank integrations end to end (issue #5): each adapter's documents become notifications delivered in the sandbox;
/// re-sent documents and re-uploaded files deliver nothing twice; forged, replayed and unsigned requests to a signing
/// source are refused; hostile XML is refused; keys and tenants stay in their lane.
/// </summary>
public abstract class SourcesTests(Func<HeraldHost> host)
{
    private const string Fingerprint = "3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4:E5:F6:07:18:29";

    private HeraldHost Host => host();

    public static Dictionary<string, string?> Settings(Dictionary<string, string?> settings) => new(settings)
    {
        ["Herald:Sources:TrustedProxies:0"] = "127.0.0.1",
        ["Herald:Sources:TrustedProxies:1"] = "::1",
        // Small batches, so a test file spans several transactions.
        ["Herald:Sources:FileBatchSize"] = "50",
    };

    protected abstract Task ExecuteSqlAsync(string sql);

    protected abstract Task<long> CountAsync(string sql);

    /// <summary>SQL after which every insert into notifications fails; <see cref="HealSql"/> undoes it.</summary>
    protected abstract string FailInsertsSql { get; }

    protected abstract string HealSql { get; }

    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));

    private static async Task<(Guid Id, JsonObject Body)> CreateSourceAsync(HttpClient client, string adapter, string settingsJson, bool requireSignature = false, string? certificate = null)
    {
        var request = new JsonObject
        {
            ["name"] = adapter + " source",
            ["adapter"] = adapter,
            ["settings"] = JsonNode.Parse(settingsJson),
            ["requireSignature"] = requireSignature,
        };
        if (certificate is not null)
        {
            request["clientCertificate"] = certificate;
        }

        using var response = await client.PostAsJsonAsync("/v1/sources", request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"Expected 201, got {(int)response.StatusCode}: {body}");
        var json = JsonNode.Parse(body)!.AsObject();
        return (json["id"]!.GetValue<Guid>(), json);
    }

    private static async Task<(HttpStatusCode Status, JsonObject Body, string ContentType)> PostAsync(
        HttpClient client, Guid sourceId, string body, string contentType, Action<HttpRequestMessage>? sign = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sources/{sourceId}/messages")
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) { Headers = { ContentType = MediaTypeHeaderValue.Parse(contentType) } },
        };
        sign?.Invoke(request);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text)!.AsObject(), response.Content.Headers.ContentType?.MediaType ?? "");
    }

    private static Action<HttpRequestMessage> Signed(string secret, string body, long? timestamp = null) => request =>
    {
        var ts = timestamp ?? TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        request.Headers.Add(RequestSignature.TimestampHeader, ts.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(RequestSignature.SignatureHeader, RequestSignature.Sign(secret, ts, Encoding.UTF8.GetBytes(body)));
    };

    private static string CamtSettings(string phone) => $$$$"""{"accounts":{"DE89370400440532013000":{"phone":"{{{{phone}}}}"},"0532013000":{"phone":"{{{{phone}}}}"}}}""";

    [Fact]
    public async Task Camt054_Document_IsDeliveredPerTransaction_AndResendingItDeliversNothingTwice()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var (sourceId, _) = await CreateSourceAsync(client, "iso20022", CamtSettings(phone));
        var xml = Fixture("camt054/camt.054.001.02.xml");

        var (status, report, _) = await PostAsync(client, sourceId, xml, "application/xml");

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(2, report["accepted"]!.GetValue<int>());
        var ids = report["items"]!.AsArray().Select(i => i!["id"]!.GetValue<Guid>()).ToList();
        foreach (var id in ids)
        {
            var n = await client.WaitForStatusAsync(id, "delivered");
            Assert.Equal("whatsapp", n.Str("channel"));
        }

        var received = await client.SandboxMessagesAsync("whatsapp", phone);
        Assert.Equal(2, received.Count);
        Assert.Contains(received, m => m.Str("text").StartsWith("Incoming payment: +1250.00 EUR", StringComparison.Ordinal));
        Assert.Contains(received, m => m.Str("text").StartsWith("Payment: -49.99 EUR", StringComparison.Ordinal));

        var (again, second, _) = await PostAsync(client, sourceId, xml, "application/xml");
        Assert.Equal(HttpStatusCode.Accepted, again);
        Assert.Equal((0, 2), (second["accepted"]!.GetValue<int>(), second["duplicate"]!.GetValue<int>()));
        Assert.Equal(ids, second["items"]!.AsArray().Select(i => i!["id"]!.GetValue<Guid>()));
        Assert.Equal(2, (await client.SandboxMessagesAsync("whatsapp", phone)).Count);
    }

    [Fact]
    public async Task Camt054_WithoutContactsOnTheSource_ReachesTheStoredCustomerOfTheAccount()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        using (var customer = await client.PutAsJsonAsync("/v1/customers/DE89370400440532013000", new { phone }))
        {
            Assert.Equal(HttpStatusCode.Created, customer.StatusCode);
        }

        var (sourceId, _) = await CreateSourceAsync(client, "iso20022", """{"customerIdFromAccount":true}""");

        var (status, report, _) = await PostAsync(client, sourceId, Fixture("camt054/camt.054.001.04.xml"), "application/xml");

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(2, report["accepted"]!.GetValue<int>());
        foreach (var item in report["items"]!.AsArray())
        {
            await client.WaitForStatusAsync(item!["id"]!.GetValue<Guid>(), "delivered");
        }

        Assert.Equal(2, (await client.SandboxMessagesAsync("whatsapp", phone)).Count);
    }

    [Theory]
    [InlineData("camt054/xxe.xml")]
    [InlineData("camt054/billion-laughs.xml")]
    public async Task Camt054_HostileXml_IsRefusedAndNothingStored(string fixture)
    {
        var (_, client) = await Host.CreateTenantAsync();
        var (sourceId, _) = await CreateSourceAsync(client, "iso20022", CamtSettings(TestData.Phone()));

        var (status, problem, contentType) = await PostAsync(client, sourceId, Fixture(fixture), "application/xml");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", contentType);
        Assert.Contains("DTD", problem["errors"]![0]!.Str("detail"), StringComparison.Ordinal);
        Assert.Empty((await client.GetFromJsonAsync<JsonObject>("/v1/notifications"))!["items"]!.AsArray());
    }

    [Fact]
    public async Task Camt054_StructurallyBroken_IsRefusedWithXPath()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var (sourceId, _) = await CreateSourceAsync(client, "iso20022", CamtSettings(TestData.Phone()));
        var xml = Fixture("camt054/camt.054.001.08.xml").Replace("<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts>", "<CdtDbtInd>BOTH</CdtDbtInd>\n        <Sts>", StringComparison.Ordinal);

        var (status, problem, _) = await PostAsync(client, sourceId, xml, "application/xml");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/CdtDbtInd", problem["errors"]![0]!.Str("pointer"));
        Assert.Empty((await client.GetFromJsonAsync<JsonObject>("/v1/notifications"))!["items"]!.AsArray());
    }

    [Fact]
    public async Task MappedJson_FraudEngineBatch_ReportsPerItem_AndDeliversTheValidOnes()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var (sourceId, _) = await CreateSourceAsync(client, "mapped", Fixture("mapped/fraud-engine.settings.json"));
        var body = Fixture("mapped/fraud-engine.json").Replace("+4915112345678", phone, StringComparison.Ordinal).Replace("+4915187654321", phone, StringComparison.Ordinal);

        var (status, report, _) = await PostAsync(client, sourceId, body, "application/json");

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal((2, 0, 1), (report["accepted"]!.GetValue<int>(), report["duplicate"]!.GetValue<int>(), report["rejected"]!.GetValue<int>()));
        var items = report["items"]!.AsArray();
        Assert.Equal("rejected", items[2]!.Str("outcome"));
        Assert.Equal("/alerts/2/customer/contact/msisdn", items[2]!["errors"]![0]!.Str("pointer"));
        var alert = await client.WaitForStatusAsync(items[0]!["id"]!.GetValue<Guid>(), "delivered");
        Assert.Equal("critical", alert.Str("priority"));
        await client.WaitForStatusAsync(items[1]!["id"]!.GetValue<Guid>(), "delivered");
        Assert.Contains(await client.SandboxMessagesAsync("whatsapp", phone), m => m.Str("text").StartsWith("Did you just pay 899.00 EUR", StringComparison.Ordinal));

        var (_, again, _) = await PostAsync(client, sourceId, body, "application/json");
        Assert.Equal((0, 2), (again["accepted"]!.GetValue<int>(), again["duplicate"]!.GetValue<int>()));
    }

    [Fact]
    public async Task UnknownCustomer_IsRefusedWithItsLocation_NotA500_AndTheRestOfTheDocumentIsStored()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var (mapped, _) = await CreateSourceAsync(client, "mapped", """
            {"mapping":{"items":"/events","type":{"const":"service.news"},"externalId":"/id",
                        "customer":{"id":"/customer","phone":"/msisdn"},"data":{"text":"/text"}}}
            """);
        var body = $$$"""
            {"events":[{"id":"E-1","customer":"C-known","msisdn":"{{{phone}}}","text":"one"},
                       {"id":"E-2","customer":"C-nobody-knows","text":"two"}]}
            """;

        var (status, report, _) = await PostAsync(client, mapped, body, "application/json");

        // The second event names a customer id Herald does not store and carries no contact: that item is refused,
        // located, and the first is stored and delivered.
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal((1, 0, 1), (report["accepted"]!.GetValue<int>(), report["duplicate"]!.GetValue<int>(), report["rejected"]!.GetValue<int>()));
        var items = report["items"]!.AsArray();
        Assert.Equal("rejected", items[1]!.Str("outcome"));
        Assert.EndsWith("/customer/id", items[1]!["errors"]![0]!.Str("pointer"), StringComparison.Ordinal);
        await client.WaitForStatusAsync(items[0]!["id"]!.GetValue<Guid>(), "delivered");

        // A single message (native) with only an unknown customer id: 422 problem, nothing stored.
        var (native, _) = await CreateSourceAsync(client, "native", "{}");
        var (single, problem, contentType) = await PostAsync(client, native, """{"type":"service.news","customer":{"id":"C-nobody-knows"}}""", "application/json");
        Assert.Equal((HttpStatusCode.UnprocessableEntity, "application/problem+json"), (single, contentType));
        Assert.Equal("/customer/id", problem["errors"]![0]!.Str("pointer"));
        Assert.Single((await client.GetFromJsonAsync<JsonObject>("/v1/notifications"))!["items"]!.AsArray());
    }

    [Fact]
    public async Task MappedJson_CardProcessorEvent_IsOneNotification_RepeatAnswersTheOriginal()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var (sourceId, _) = await CreateSourceAsync(client, "mapped", Fixture("mapped/card-processor.settings.json"));
        var body = Fixture("mapped/card-processor.json").Replace("+4915112345678", phone, StringComparison.Ordinal);

        var (status, accepted, _) = await PostAsync(client, sourceId, body, "application/json");
        var (repeat, original, _) = await PostAsync(client, sourceId, body, "application/json");

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.OK), (status, repeat));
        Assert.Equal(accepted["id"]!.GetValue<Guid>(), original["id"]!.GetValue<Guid>());
        var n = await client.WaitForStatusAsync(accepted["id"]!.GetValue<Guid>(), "delivered");
        Assert.Equal("high", n.Str("priority"));
        Assert.Single(await client.SandboxMessagesAsync("whatsapp", phone));
    }

    [Fact]
    public async Task File_CsvUpload_ReportsLinesAndReuploadDeliversNothingTwice()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var (sourceId, _) = await CreateSourceAsync(client, "file", Fixture("files/transactions.settings.json"));
        var csv = Fixture("files/transactions.csv").Replace("+4915112345678", phone, StringComparison.Ordinal);

        var (status, report, _) = await PostAsync(client, sourceId, csv, "text/csv");

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal((2, 0, 3), (report["accepted"]!.GetValue<int>(), report["duplicate"]!.GetValue<int>(), report["rejected"]!.GetValue<int>()));
        Assert.Equal(["line 4, field 'kind'", "line 5, field 'mobile'", "line 7, column 6"],
            report["items"]!.AsArray().Select(i => i!["errors"]![0]!.Str("pointer")));
        Assert.False(report["itemsCapped"]!.GetValue<bool>());
        var delivered = await TestData.EventuallyAsync(() => client.SandboxMessagesAsync("whatsapp", phone), m => m.Count >= 1, TimeSpan.FromSeconds(30), "the salary line's delivery");
        Assert.Equal("Salary November; ACME GmbH", Assert.Single(delivered).Str("text"));

        var (again, second, _) = await PostAsync(client, sourceId, csv, "text/csv");
        Assert.Equal(HttpStatusCode.Accepted, again);
        Assert.Equal((0, 2, 3), (second["accepted"]!.GetValue<int>(), second["duplicate"]!.GetValue<int>(), second["rejected"]!.GetValue<int>()));
        var page = (await client.GetFromJsonAsync<JsonObject>("/v1/notifications"))!["items"]!.AsArray();
        Assert.Equal(2, page.Count);
    }

    [Fact]
    public async Task File_InvalidUtf8AndNulBytes_AreLocatedLineRejections_ValidLinesStored_ReuploadIsDuplicates()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var (sourceId, _) = await CreateSourceAsync(client, "file", BookingSettings);
        var chat = TestData.ChatId();
        byte[] file =
        [
            .. Encoding.UTF8.GetBytes("id;customer;chat;text\n" + BookingLine(1, chat)),
            .. Encoding.UTF8.GetBytes($"B-2;C-2;{chat};Gr"), 0xFC, .. "\u00dfe\n"u8,
            .. Encoding.UTF8.GetBytes($"B-3;C-3;{chat};nul "), 0x00, .. "\n"u8,
            .. Encoding.UTF8.GetBytes(BookingLine(4, chat)),
        ];

        using var upload = new HttpRequestMessage(HttpMethod.Post, $"/v1/sources/{sourceId}/messages")
        {
            Content = new ByteArrayContent(file) { Headers = { ContentType = MediaTypeHeaderValue.Parse("text/csv") } },
        };
        using var response = await client.SendAsync(upload);
        var report = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal((2, 0, 2), (report["accepted"]!.GetValue<int>(), report["duplicate"]!.GetValue<int>(), report["rejected"]!.GetValue<int>()));
        var errors = report["items"]!.AsArray().Select(i => i!["errors"]![0]!).ToList();
        Assert.Equal(["line 3, character " + (12 + chat.Length), "line 4, character " + (14 + chat.Length)], errors.Select(e => e.Str("pointer")));
        Assert.Contains("not valid UTF-8", errors[0].Str("detail"), StringComparison.Ordinal);
        Assert.Contains("NUL", errors[1].Str("detail"), StringComparison.Ordinal);

        using var again = new HttpRequestMessage(HttpMethod.Post, $"/v1/sources/{sourceId}/messages")
        {
            Content = new ByteArrayContent(file) { Headers = { ContentType = MediaTypeHeaderValue.Parse("text/csv") } },
        };
        using var second = await client.SendAsync(again);
        var repeat = JsonNode.Parse(await second.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal((0, 2, 2), (repeat["accepted"]!.GetValue<int>(), repeat["duplicate"]!.GetValue<int>(), repeat["rejected"]!.GetValue<int>()));
    }

    private const string BookingSettings = """
        {"layout":{"format":"csv","delimiter":";","header":true,"idColumn":"id"},
         "mapping":{"type":{"const":"account.credit"},"priority":{"const":"low"},
                    "customer":{"id":"/customer","telegramChatId":"/chat"},"data":{"text":"/text"}}}
        """;

    private static string BookingLine(int i, string chat) => string.Create(CultureInfo.InvariantCulture, $"B-{i};C-{i};{chat};Booking {i}\n");

    [Fact]
    public async Task File_InterruptedByADatabaseFailure_SaysWhatWasStored_AndAReuploadAcceptsEveryLineOnce()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var (sourceId, _) = await CreateSourceAsync(client, "file", BookingSettings);
        var chat = TestData.ChatId();
        const int lines = 1000, before = 400;
        var file = "id;customer;chat;text\n" + string.Concat(Enumerable.Range(0, lines).Select(i => BookingLine(i, chat)));
        var bytes = Encoding.UTF8.GetBytes(file);
        var split = Encoding.UTF8.GetByteCount("id;customer;chat;text\n" + string.Concat(Enumerable.Range(0, before).Select(i => BookingLine(i, chat))));
        var keys = $"dedupe_key LIKE 'src:{sourceId:N}:%'";

        // The first 400 lines go up; once they are stored the database starts failing, then the rest follows.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sources/{sourceId}/messages")
        {
            Content = new StreamContent(new GatedStream(bytes, split, gate.Task)) { Headers = { ContentType = new MediaTypeHeaderValue("text/csv") } },
        };
        var upload = client.SendAsync(request);
        await TestData.EventuallyAsync(() => CountAsync($"SELECT count(*) FROM notifications WHERE {keys}"), n => n == before, TimeSpan.FromSeconds(60), "the first 400 lines stored");
        await ExecuteSqlAsync(FailInsertsSql);
        HttpResponseMessage interrupted;
        try
        {
            gate.SetResult();
            interrupted = await upload;
        }
        finally
        {
            await ExecuteSqlAsync(HealSql);
        }

        using (interrupted)
        {
            var problem = JsonNode.Parse(await interrupted.Content.ReadAsStringAsync())!.AsObject();
            Assert.Equal((HttpStatusCode.ServiceUnavailable, "application/problem+json"), (interrupted.StatusCode, interrupted.Content.Headers.ContentType?.MediaType));
            Assert.False(problem["complete"]!.GetValue<bool>());
            // Header + 400 lines: everything through line 401 is stored, nothing after it.
            Assert.Equal((before, before + 1), (problem["accepted"]!.GetValue<int>(), problem["committedThroughLine"]!.GetValue<int>()));
            Assert.Contains("Upload the whole file again", problem.Str("detail"), StringComparison.Ordinal);
        }

        Assert.Equal(before, await CountAsync($"SELECT count(*) FROM notifications WHERE {keys}"));

        var (status, report, _) = await PostAsync(client, sourceId, file, "text/csv");

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal((lines - before, before, 0), (report["accepted"]!.GetValue<int>(), report["duplicate"]!.GetValue<int>(), report["rejected"]!.GetValue<int>()));
        Assert.True(report["complete"]!.GetValue<bool>());
        Assert.Equal(lines, await CountAsync($"SELECT count(*) FROM notifications WHERE {keys}"));
        Assert.Equal(lines, await CountAsync($"SELECT count(DISTINCT dedupe_key) FROM notifications WHERE {keys}"));
    }

    [Fact]
    public async Task File_QuotedFieldsSpanningLines_AreOneLineEach_AndErrorsNameTheLineWhereTheRecordStarts()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var (sourceId, _) = await CreateSourceAsync(client, "file", BookingSettings);
        var chat = TestData.ChatId();
        var file = $"id;customer;chat;text\r\nB-1;C-1;{chat};\"Salary\r\nNovember\"\r\nB-2;;\"\";\"two\nlines\"\nB-3;C-3;{chat};plain\n";

        var (status, report, _) = await PostAsync(client, sourceId, file, "text/csv");

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal((2, 1), (report["accepted"]!.GetValue<int>(), report["rejected"]!.GetValue<int>()));
        // B-2 starts on physical line 4 (its record ends on line 5); B-3 on line 6.
        Assert.Equal("line 4", Assert.Single(report["items"]!.AsArray())!.Str("location"));
        var delivered = await TestData.EventuallyAsync(() => client.SandboxMessagesAsync("telegram", chat), m => m.Count >= 2, TimeSpan.FromSeconds(30), "both good records delivered");
        Assert.Contains(delivered, m => m.Str("text").Contains("November", StringComparison.Ordinal));
    }

    [Fact]
    public async Task File_LargerThanTheServerWideBodyLimit_IsAcceptedOnTheFileEndpointOnly()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var (sourceId, _) = await CreateSourceAsync(client, "file", BookingSettings);
        var (jsonSourceId, _) = await CreateSourceAsync(client, "mapped", """{"mapping":{"type":{"const":"otp"},"customer":{"phone":"/p"}}}""");
        var chat = TestData.ChatId();
        // 36 MB: above Kestrel's server-wide 30 MB and Herald:Sources:MaxDocumentBytes (16 MiB); blank lines are ignored.
        var body = new byte[36_000_000];
        Array.Fill(body, (byte)'\n');
        var head = Encoding.UTF8.GetBytes("id;customer;chat;text\n" + BookingLine(1, chat) + BookingLine(2, chat));
        head.CopyTo(body, 0);

        using var file = await client.PostAsync($"/v1/sources/{sourceId}/messages", new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("text/csv") } });
        // The refusal comes before the body is read, so the client waits for "100 Continue" instead of writing 36 MB
        // into a connection the server closes.
        using var patient = new HttpClient(new SocketsHttpHandler { Expect100ContinueTimeout = TimeSpan.FromMinutes(2) })
        {
            BaseAddress = client.BaseAddress,
            DefaultRequestHeaders = { Authorization = client.DefaultRequestHeaders.Authorization, ExpectContinue = true },
        };
        using var json = await patient.PostAsync($"/v1/sources/{jsonSourceId}/messages", new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } });

        Assert.Equal(HttpStatusCode.Accepted, file.StatusCode);
        Assert.Equal(2, JsonNode.Parse(await file.Content.ReadAsStringAsync())!["accepted"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, json.StatusCode);
    }

    /// <summary>The body up to <c>split</c>, then the rest once <c>gate</c> completes.</summary>
    private sealed class GatedStream(byte[] body, int split, Task gate) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == split)
            {
                await gate.WaitAsync(cancellationToken);
            }

            var end = _position < split ? split : body.Length;
            var n = Math.Min(buffer.Length, end - _position);
            body.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("async only");

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task File_FixedWidthUpload_IsDelivered()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var (sourceId, _) = await CreateSourceAsync(client, "file", Fixture("files/statement.settings.json"));
        var text = Fixture("files/statement.txt").Replace("+4915112345678", phone, StringComparison.Ordinal);

        var (status, report, _) = await PostAsync(client, sourceId, text, "text/plain");

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal((2, 1), (report["accepted"]!.GetValue<int>(), report["rejected"]!.GetValue<int>()));
        await TestData.EventuallyAsync(() => client.SandboxMessagesAsync("whatsapp", phone), m => m.Count == 2, TimeSpan.FromSeconds(30), "both statement lines delivered");
    }

    [Fact]
    public async Task File_EveryLineRejected_IsAProblemAndNothingStored()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var (sourceId, _) = await CreateSourceAsync(client, "file", Fixture("files/transactions.settings.json"));

        var (status, problem, contentType) = await PostAsync(client, sourceId,
            "booking_id;kind;customer_no;mobile;email;amount;currency;booking_date;text\nB-1;Q;C-1;+4915112345678;;1;EUR;2026-11-24;x\n", "text/csv");

        Assert.Equal((HttpStatusCode.BadRequest, "application/problem+json"), (status, contentType));
        Assert.Equal("line 2, field 'kind'", problem["errors"]![0]!.Str("pointer"));
    }

    [Fact]
    public async Task Signing_UnsignedForgedStaleAndReplayedRequests_AreRefused_SignedOnesAccepted()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var (sourceId, created) = await CreateSourceAsync(client, "native", "{}", requireSignature: true);
        var secret = created["signingSecret"]!.GetValue<string>();
        Assert.True(created["signatureRequired"]!.GetValue<bool>());
        var body = $$$"""{"type":"otp","customer":{"phone":"{{{phone}}}"},"data":{"text":"Code 123456"}}""";
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();

        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(client, sourceId, body, "application/json")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(client, sourceId, body, "application/json", Signed(RequestSignature.NewSecret(), body, now))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(client, sourceId, body, "application/json", Signed(secret, body, now - 3600))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(client, sourceId, body.Replace("123456", "654321", StringComparison.Ordinal), "application/json", Signed(secret, body, now))).Status);

        var sign = Signed(secret, body, now);
        var (status, accepted, _) = await PostAsync(client, sourceId, body, "application/json", sign);
        Assert.Equal(HttpStatusCode.Accepted, status);
        var (replayed, problem, _) = await PostAsync(client, sourceId, body, "application/json", sign);
        Assert.Equal(HttpStatusCode.Unauthorized, replayed);
        Assert.Contains("replay", problem.Str("title"), StringComparison.Ordinal);

        await client.WaitForStatusAsync(accepted["id"]!.GetValue<Guid>(), "delivered");
        Assert.Single(await client.SandboxMessagesAsync("whatsapp", phone));

        // Rotation: the old secret stops working at once, the new one (shown once) works.
        using var rotate = await client.PostAsync($"/v1/sources/{sourceId}/signing-secret", null);
        var newSecret = (await rotate.Content.ReadFromJsonAsync<JsonObject>())!["signingSecret"]!.GetValue<string>();
        var next = $$$"""{"type":"otp","customer":{"phone":"{{{phone}}}"},"data":{"text":"Code 777777"}}""";
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(client, sourceId, next, "application/json", Signed(secret, next, now))).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(client, sourceId, next, "application/json", Signed(newSecret, next, now))).Status);
        Assert.DoesNotContain("signingSecret", (await client.GetStringAsync($"/v1/sources/{sourceId}")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Signing_SignedFileUpload_IsVerifiedBeforeAnyLineIsTaken()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var phone = TestData.Phone();
        var settings = JsonNode.Parse(Fixture("files/statement.settings.json"))!;
        var (sourceId, created) = await CreateSourceAsync(client, "file", settings.ToJsonString(), requireSignature: true);
        var secret = created["signingSecret"]!.GetValue<string>();
        var text = Fixture("files/statement.txt").Replace("+4915112345678", phone, StringComparison.Ordinal);
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();

        var (forged, _, _) = await PostAsync(client, sourceId, text, "text/plain", Signed(RequestSignature.NewSecret(), text, now));
        Assert.Equal(HttpStatusCode.Unauthorized, forged);
        Assert.Empty((await client.GetFromJsonAsync<JsonObject>("/v1/notifications"))!["items"]!.AsArray());

        var (status, report, _) = await PostAsync(client, sourceId, text, "text/plain", Signed(secret, text, now));
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(2, report["accepted"]!.GetValue<int>());
    }

    [Fact]
    public async Task ClientCertificate_FromTheTrustedProxy_MustMatchTheSource()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var (sourceId, created) = await CreateSourceAsync(client, "native", "{}", certificate: Fingerprint);
        Assert.Equal(RequestSignature.NormaliseFingerprint(Fingerprint), created["clientCertificate"]!.GetValue<string>());
        var body = $$$"""{"type":"service.news","customer":{"phone":"{{{TestData.Phone()}}}"}}""";

        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(client, sourceId, body, "application/json")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(client, sourceId, body, "application/json",
            r => r.Headers.Add("X-Client-Cert-Fingerprint", new string('A', 64)))).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(client, sourceId, body, "application/json",
            r => r.Headers.Add("X-Client-Cert-Fingerprint", Fingerprint.ToLowerInvariant()))).Status);
    }

    [Fact]
    public async Task Keys_ScopedToASource_PostOnlyThere_AndTenantsSeeOnlyTheirOwnSources()
    {
        var (tenantId, client) = await Host.CreateTenantAsync();
        var (_, other) = await Host.CreateTenantAsync("Other Bank");
        var (a, _) = await CreateSourceAsync(client, "native", "{}");
        var (b, _) = await CreateSourceAsync(client, "native", "{}");
        using var keyResponse = await Host.Admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles = new[] { "send" }, sourceId = a });
        var scoped = Host.Client((await keyResponse.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>());
        var body = $$$"""{"type":"service.news","customer":{"phone":"{{{TestData.Phone()}}}"}}""";

        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(scoped, a, body, "application/json")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(scoped, b, body, "application/json")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await scoped.GetAsync("/v1/sources")).StatusCode);
        // Not around the source's own credentials either: /v1/notifications checks no signature or certificate.
        using (var direct = await scoped.PostAsync("/v1/notifications", new StringContent(body, Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, direct.StatusCode);
            Assert.Equal("application/problem+json", direct.Content.Headers.ContentType?.MediaType);
        }

        using (var batch = await scoped.PostAsync("/v1/notifications/batch", new StringContent($$"""{"items":[{{body}}]}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, batch.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/sources/{a}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync(other, a, body, "application/json")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.DeleteAsync($"/v1/sources/{a}")).StatusCode);
        Assert.Empty((await other.GetFromJsonAsync<JsonArray>("/v1/sources"))!);
        Assert.Equal(2, (await client.GetFromJsonAsync<JsonArray>("/v1/sources"))!.Count);
        var notification = (await client.GetFromJsonAsync<JsonObject>("/v1/notifications"))!["items"]!.AsArray();
        Assert.Single(notification);
    }

    [Fact]
    public async Task Admin_InvalidMappingOrLayout_IsRefusedWithLocatedErrors_AndNothingSaved()
    {
        var (_, client) = await Host.CreateTenantAsync();

        using var badMapping = await client.PostAsJsonAsync("/v1/sources", JsonNode.Parse("""
            {"name":"cards","adapter":"mapped","settings":{"mapping":{"type":{"from":"/k","map":{"A":"Bad Type"}},"customer":{"fax":"/f"}}}}
            """));
        using var badLayout = await client.PostAsJsonAsync("/v1/sources", JsonNode.Parse("""
            {"name":"files","adapter":"file","settings":{"layout":{"format":"fixed","fields":[{"name":"a","start":1,"length":2}]},"mapping":{"type":{"const":"otp"},"customer":{"phone":"/b"}}}}
            """));
        using var badAdapter = await client.PostAsJsonAsync("/v1/sources", JsonNode.Parse("""{"name":"x","adapter":"swift"}"""));

        Assert.Equal(HttpStatusCode.BadRequest, badMapping.StatusCode);
        var pointers = (await badMapping.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsArray().Select(e => e.Str("pointer"));
        Assert.Equal(["/settings/mapping/type/map/A", "/settings/mapping/customer/fax"], pointers);
        Assert.Equal("/settings/mapping/customer/phone", (await badLayout.Content.ReadFromJsonAsync<JsonObject>())!["errors"]![0].Str("pointer"));
        Assert.Equal("/adapter", (await badAdapter.Content.ReadFromJsonAsync<JsonObject>())!["errors"]![0].Str("pointer"));
        Assert.Empty((await client.GetFromJsonAsync<JsonArray>("/v1/sources"))!);
    }

    [Fact]
    public async Task Admin_UpdateAndDelete_ChangeTheSource()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var (id, _) = await CreateSourceAsync(client, "native", "{}");

        using var update = await client.PutAsJsonAsync($"/v1/sources/{id}", JsonNode.Parse(
            """{"name":"Cards","adapter":"mapped","settings":{"mapping":{"type":{"const":"card.transaction"},"customer":{"phone":"/p"}}}}"""));
        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        var read = await client.GetFromJsonAsync<JsonObject>($"/v1/sources/{id}");
        Assert.Equal(("Cards", "mapped"), (read.Str("name"), read.Str("adapter")));

        using var deleted = await client.DeleteAsync($"/v1/sources/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync(client, id, "{}", "application/json")).Status);
    }
}
