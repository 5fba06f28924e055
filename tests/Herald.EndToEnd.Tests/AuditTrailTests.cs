using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.Channels.Providers;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Audit;
using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>The audit trail on PostgreSQL.</summary>
public sealed class PostgresAuditTrailTests(PostgresAuditHostFixture fixture) : AuditTrailTests(() => fixture.Host), IClassFixture<PostgresAuditHostFixture>
{
    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var command = fixture.Host.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().CreateCommand(sql);
        await command.ExecuteNonQueryAsync(Ct);
    }

    protected override string FailAuditSql =>
        """
        CREATE FUNCTION herald_test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
        CREATE TRIGGER herald_test_fail_audit BEFORE INSERT ON audit_entries FOR EACH STATEMENT EXECUTE FUNCTION herald_test_fail_audit();
        """;

    protected override string HealSql => "DROP TRIGGER herald_test_fail_audit ON audit_entries; DROP FUNCTION herald_test_fail_audit();";

    protected override string FailCustomerDeleteSql =>
        """
        CREATE FUNCTION herald_test_fail_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
        CREATE TRIGGER herald_test_fail_delete BEFORE DELETE ON customers FOR EACH STATEMENT EXECUTE FUNCTION herald_test_fail_delete();
        """;

    protected override string HealCustomerDeleteSql => "DROP TRIGGER herald_test_fail_delete ON customers; DROP FUNCTION herald_test_fail_delete();";
}

/// <summary>The audit trail on the embedded SQLite backend.</summary>
public sealed class SqliteAuditTrailTests(SqliteAuditHostFixture fixture) : AuditTrailTests(() => fixture.Host), IClassFixture<SqliteAuditHostFixture>
{
    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={fixture.DatabasePath};Default Timeout=30");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    protected override string FailAuditSql =>
        "CREATE TRIGGER herald_test_fail_audit BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'injected failure'); END;";

    protected override string HealSql => "DROP TRIGGER herald_test_fail_audit;";

    protected override string FailCustomerDeleteSql =>
        "CREATE TRIGGER herald_test_fail_delete BEFORE DELETE ON customers BEGIN SELECT RAISE(ABORT, 'injected failure'); END;";

    protected override string HealCustomerDeleteSql => "DROP TRIGGER herald_test_fail_delete;";
}

public sealed class PostgresAuditHostFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public HeraldHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var database = await postgres.CreateDatabaseAsync("e2e_audit_" + Guid.NewGuid().ToString("N")[..12]);
        Host = await HeraldHost.StartAsync(HeraldRole.All, AuditTrailTests.Settings(HeraldHost.BaseSettings(database)));
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

public sealed class SqliteAuditHostFixture : IAsyncLifetime
{
    private readonly TempFolder _folder = new();

    public HeraldHost Host { get; private set; } = null!;

    public string DatabasePath => Path.Combine(_folder.Path, "herald.db");

    public async ValueTask InitializeAsync() =>
        Host = await HeraldHost.StartAsync(HeraldRole.All, AuditTrailTests.Settings(HeraldHost.SqliteSettings(_folder.Path)));

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        _folder.Dispose();
    }
}

/// <summary>
/// The audit trail end to end (issue #17): configuration changes each leave one entry with the acting key, a diff
/// without secrets, the request id and the client address through the trusted proxy; a change that fails leaves none
/// (and a failing audit write fails the change); search filters and pages; NDJSON export; verify names an entry
/// altered with SQL; the system key's acts and refused keys go to the system chain.
/// </summary>
public abstract class AuditTrailTests(Func<HeraldHost> host)
{
    private const string ClientAddress = "198.51.100.23";

    private HeraldHost Host => host();

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The loopback proxy is trusted, so X-Forwarded-For names the client.</summary>
    public static Dictionary<string, string?> Settings(Dictionary<string, string?> settings) => new(settings)
    {
        ["Herald:Sources:TrustedProxies:0"] = "127.0.0.1",
        ["Herald:Sources:TrustedProxies:1"] = "::1",
    };

    protected abstract Task ExecuteSqlAsync(string sql);

    /// <summary>SQL after which every audit insert fails; <see cref="HealSql"/> undoes it.</summary>
    protected abstract string FailAuditSql { get; }

    protected abstract string HealSql { get; }

    /// <summary>SQL that makes deleting a stored customer fail (the erasure's own change), and its undoing.</summary>
    protected abstract string FailCustomerDeleteSql { get; }

    protected abstract string HealCustomerDeleteSql { get; }

    [Fact]
    public async Task RuleChange_LeavesOneEntry_WithActorDiffRequestIdAndClientAddress()
    {
        var (_, client) = await Host.CreateTenantAsync();
        using var request = Request(HttpMethod.Put, "/v1/rules", "req-rules-1");
        request.Content = new StringContent("""{"rules": [{"name": "otp-first", "then": {"priority": "critical"}}]}""", System.Text.Encoding.UTF8, "application/json");
        using (var put = await client.SendAsync(request, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var entry = Assert.Single(await EntriesAsync(client, "/v1/audit?resource=rules"));
        Assert.Equal("rules.update", entry.Str("action"));
        Assert.Equal("1", entry.Str("resourceId"));
        Assert.Equal("req-rules-1", entry.Str("requestId"));
        Assert.Equal(ClientAddress, entry.Str("clientAddress"));
        Assert.StartsWith("key ", entry.Str("actor"), StringComparison.Ordinal);
        Assert.Contains(entry.Str("keyId")!, entry.Str("actor"), StringComparison.Ordinal);
        var diff = JsonNode.Parse(entry.Str("diff")!)!;
        Assert.Equal("critical", diff["after"]!["otp-first"]!["then"]!["priority"]!.GetValue<string>());
    }

    [Fact]
    public async Task WebhookUrlChange_RecordsBothUrls_AndNeverTheSecret()
    {
        var (_, client) = await Host.CreateTenantAsync();
        using var created = await client.PostAsJsonAsync("/v1/webhooks", new { url = "https://bank.example/hooks", statuses = new[] { "failed" } }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = (await created.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        var id = body.Str("id")!;
        var secret = body.Str("secret")!;

        using var patch = Request(HttpMethod.Patch, $"/v1/webhooks/{id}", "req-webhook-url");
        patch.Content = JsonContent.Create(new { url = "https://exfiltrate.example/collect" });
        using (var patched = await client.SendAsync(patch, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        using var rotated = await client.PostAsync($"/v1/webhooks/{id}/rotate-secret", null, Ct);
        var newSecret = (await rotated.Content.ReadFromJsonAsync<JsonObject>(Ct))!.Str("secret")!;

        using var raw = await client.GetAsync($"/v1/audit?resource=webhook/{id}", Ct);
        var text = await raw.Content.ReadAsStringAsync(Ct);
        Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        Assert.DoesNotContain(newSecret, text, StringComparison.Ordinal);

        var entries = Items(JsonNode.Parse(text)!);
        Assert.Equal(["webhook.rotate-secret", "webhook.update", "webhook.create"], entries.Select(e => e.Str("action")));
        var update = entries[1];
        Assert.Equal("req-webhook-url", update.Str("requestId"));
        var diff = JsonNode.Parse(update.Str("diff")!)!;
        Assert.Equal("https://bank.example/hooks", diff["before"]!["url"]!.GetValue<string>());
        Assert.Equal("https://exfiltrate.example/collect", diff["after"]!["url"]!.GetValue<string>());
        // The rotation shows as a changed, redacted secret.
        var rotation = JsonNode.Parse(entries[0].Str("diff")!)!;
        Assert.Equal(AuditRecorder.Redacted, rotation["after"]!["secret"]!.GetValue<string>());
        Assert.Equal(AuditRecorder.Redacted, JsonNode.Parse(entries[2].Str("diff")!)!["after"]!["secret"]!.GetValue<string>());
    }

    [Fact]
    public async Task ProviderIsolateAndCredentialChange_LeaveEntries_WithoutTheCredentials()
    {
        var (tenantId, client) = await Host.CreateTenantAsync();
        var providers = Host.Services.GetRequiredService<IProviderStore>();
        // The sandbox Telegram account: its bot token and webhook secret (read from the store: the API never shows them).
        var account = (await providers.ListAsync(tenantId, Ct)).Single(a => a.Channel == Herald.Core.Notifications.Channel.Telegram);
        var settings = (JsonObject)JsonNode.Parse(account.Settings)!;
        const string secretField = "webhookSecret";
        Assert.True(ConnectorDefinitions.IsSecret(account.Kind, secretField));
        var oldSecrets = settings.Where(p => ConnectorDefinitions.IsSecret(account.Kind, p.Key)).Select(p => p.Value!.ToString()).ToList();
        Assert.Equal(2, oldSecrets.Count);

        using (var isolate = await client.SendAsync(Request(HttpMethod.Post, $"/v1/providers/{account.Id}/isolate", "req-isolate"), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, isolate.StatusCode);
        }

        const string NewSecret = "rotatedCredential7f3a9cQ2";
        using (var patch = await client.PatchAsJsonAsync($"/v1/providers/{account.Id}", new Dictionary<string, object> { ["settings"] = new Dictionary<string, string> { [secretField] = NewSecret } }, Ct))
        {
            Assert.True(patch.StatusCode == HttpStatusCode.OK, $"{account.Kind}.{secretField}: {await patch.Content.ReadAsStringAsync(Ct)}");
        }

        using var raw = await client.GetAsync($"/v1/audit?resource=provider/{account.Id:D}", Ct);
        var text = await raw.Content.ReadAsStringAsync(Ct);
        Assert.All(oldSecrets, old => Assert.DoesNotContain(old, text, StringComparison.Ordinal));
        Assert.DoesNotContain(NewSecret, text, StringComparison.Ordinal);

        var entries = Items(JsonNode.Parse(text)!);
        Assert.Equal(["provider.update", "provider.isolate"], entries.Select(e => e.Str("action")));
        var isolated = entries[1];
        Assert.Equal("req-isolate", isolated.Str("requestId"));
        var diff = JsonNode.Parse(isolated.Str("diff")!)!;
        Assert.False(diff["before"]!["isolated"]!.GetValue<bool>());
        Assert.True(diff["after"]!["isolated"]!.GetValue<bool>());
        Assert.Equal(secretField, JsonNode.Parse(entries[0].Str("diff")!)!["after"]!["rotated"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task FailedChanges_LeaveNoEntry_AndAFailingAuditWriteFailsTheChange()
    {
        var (tenantId, client) = await Host.CreateTenantAsync();
        // The tenant's chain starts with its provisioning: its sandbox accounts and its first key.
        var provisioned = await EntriesAsync(client, "/v1/audit");
        Assert.Equal(["key.create", "provider.create"], provisioned.Select(e => e.Str("action")));
        // Refused by validation, by a stale If-Match, and not found: nothing changes, nothing is recorded.
        using (var bad = await client.PostAsJsonAsync("/v1/webhooks", new { url = "ftp://bank.example/x" }, Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        using (var stale = new HttpRequestMessage(HttpMethod.Put, "/v1/rules"))
        {
            stale.Headers.TryAddWithoutValidation("If-Match", "\"5\"");
            stale.Content = new StringContent("""{"rules": []}""", System.Text.Encoding.UTF8, "application/json");
            using var answer = await client.SendAsync(stale, Ct);
            Assert.Equal(HttpStatusCode.PreconditionFailed, answer.StatusCode);
        }

        using (var missing = await client.DeleteAsync($"/v1/webhooks/{Guid.CreateVersion7()}", Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        Assert.Equal(2, (await EntriesAsync(client, "/v1/audit")).Count);

        // The entry is written in the change's own transaction: when it cannot be written, the change is not made.
        await ExecuteSqlAsync(FailAuditSql);
        try
        {
            using var put = await client.PutAsync("/v1/rules", new StringContent("""{"rules": [{"name": "a", "then": {"priority": "low"}}]}""", System.Text.Encoding.UTF8, "application/json"), Ct);
            // The host's answer to a storage failure.
            Assert.Equal(HttpStatusCode.ServiceUnavailable, put.StatusCode);
        }
        finally
        {
            await ExecuteSqlAsync(HealSql);
        }

        Assert.Null(await Host.Services.GetRequiredService<IRuleStore>().GetCurrentAsync(tenantId, Ct));
        Assert.Equal(2, (await EntriesAsync(client, "/v1/audit")).Count);
    }

    /// <summary>Issue #17: an erasure and its audit entry are one transaction. When the entry cannot be written nothing
    /// is erased; when the erasure fails there is no entry claiming it happened; once it succeeds, exactly one entry.</summary>
    [Fact]
    public async Task Erasure_AndItsAuditEntry_CommitTogetherOrNotAtAll()
    {
        var (tenantId, client) = await Host.CreateTenantAsync();
        var notifications = Host.Services.GetRequiredService<INotificationStore>();
        using (var put = await client.PutAsJsonAsync("/v1/customers/c-erase-audit", new { phone = TestData.Phone() }, Ct))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync(Ct));
        }

        var sent = await client.SendAsync(new { type = "card.transaction", customer = new { id = "c-erase-audit" }, data = new { text = "Kept Until Erased" } });
        await client.WaitForStatusAsync(sent, "delivered", TimeSpan.FromSeconds(60));

        foreach (var (fail, heal) in new[] { (FailAuditSql, HealSql), (FailCustomerDeleteSql, HealCustomerDeleteSql) })
        {
            await ExecuteSqlAsync(fail);
            try
            {
                using var erase = await client.PostAsync("/v1/customers/c-erase-audit/erase", null, Ct);
                Assert.False(erase.IsSuccessStatusCode, await erase.Content.ReadAsStringAsync(Ct));
            }
            finally
            {
                await ExecuteSqlAsync(heal);
            }

            Assert.Empty(await EntriesAsync(client, "/v1/audit?action=customer.erase"));
            using var customer = await client.GetAsync("/v1/customers/c-erase-audit", Ct);
            Assert.Equal(HttpStatusCode.OK, customer.StatusCode);
            Assert.Contains("Kept Until Erased", (await notifications.GetAsync(tenantId, sent, Ct))!.DataJson, StringComparison.Ordinal);
        }

        using (var erase = await client.PostAsync("/v1/customers/c-erase-audit/erase", null, Ct))
        {
            Assert.True(erase.IsSuccessStatusCode, await erase.Content.ReadAsStringAsync(Ct));
        }

        Assert.Single(await EntriesAsync(client, "/v1/audit?action=customer.erase"));
        using (var gone = await client.GetAsync("/v1/customers/c-erase-audit", Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        Assert.DoesNotContain("Kept Until Erased", (await notifications.GetAsync(tenantId, sent, Ct))!.DataJson, StringComparison.Ordinal);
        Assert.True((await client.GetFromJsonAsync<JsonObject>("/v1/audit/verify", Ct))!["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Search_FiltersAndPages_AndRefusesBadQueries()
    {
        var (_, client) = await Host.CreateTenantAsync();
        for (var i = 1; i <= 5; i++)
        {
            using var put = await client.PutAsync("/v1/rules", new StringContent($$$"""{"rules": [{"name": "r{{{i}}}", "then": {"priority": "low"}}]}""", System.Text.Encoding.UTF8, "application/json"), Ct);
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using (var created = await client.PostAsJsonAsync("/v1/webhooks", new { url = "https://bank.example/hooks" }, Ct))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var first = await client.GetFromJsonAsync<JsonObject>("/v1/audit?action=rules.&limit=2", Ct);
        Assert.Equal(["5", "4"], Items(first!).Select(e => e.Str("resourceId")));
        var next = first!["next"]!.GetValue<long>();
        var second = await client.GetFromJsonAsync<JsonObject>($"/v1/audit?action=rules.&limit=2&before={next}", Ct);
        Assert.Equal(["3", "2"], Items(second!).Select(e => e.Str("resourceId")));
        var webhook = Assert.Single(await EntriesAsync(client, "/v1/audit?resource=webhook"));
        var actor = webhook.Str("keyId")!;
        Assert.Equal(6, (await EntriesAsync(client, $"/v1/audit?actor={actor}")).Count);
        Assert.Equal(["key.create", "provider.create"], (await EntriesAsync(client, "/v1/audit?actor=system")).Select(e => e.Str("action")));
        Assert.Empty(await EntriesAsync(client, $"/v1/audit?from=2999-01-01T00:00:00Z"));

        using var bad = await client.GetAsync("/v1/audit?limit=0&before=x&from=yesterday", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var pointers = (await bad.Content.ReadFromJsonAsync<JsonObject>(Ct))!["errors"]!.AsArray().Select(e => e!.Str("pointer")).Order();
        Assert.Equal(["query/before", "query/from", "query/limit"], pointers);
    }

    [Fact]
    public async Task Export_StreamsNdjson_OneEntryALine()
    {
        var (_, client) = await Host.CreateTenantAsync();
        for (var i = 1; i <= 3; i++)
        {
            using var put = await client.PutAsync("/v1/rules", new StringContent($$$"""{"rules": [{"name": "r{{{i}}}", "then": {"priority": "low"}}]}""", System.Text.Encoding.UTF8, "application/json"), Ct);
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var export = await client.GetAsync("/v1/audit/export?action=rules.", Ct);
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        Assert.Equal(AuditApi.NdjsonContentType, export.Content.Headers.ContentType!.MediaType);
        var lines = (await export.Content.ReadAsStringAsync(Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // After the two entries of the tenant's provisioning.
        Assert.Equal([5L, 4L, 3L], lines.Select(l => JsonNode.Parse(l)!["seq"]!.GetValue<long>()));

        using var accept = new HttpRequestMessage(HttpMethod.Get, "/v1/audit?action=rules.update");
        accept.Headers.Accept.ParseAdd(AuditApi.NdjsonContentType);
        using var negotiated = await client.SendAsync(accept, Ct);
        Assert.Equal(AuditApi.NdjsonContentType, negotiated.Content.Headers.ContentType!.MediaType);
        Assert.Equal(3, (await negotiated.Content.ReadAsStringAsync(Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Verify_NamesTheEntryAlteredWithSql()
    {
        var (tenantId, client) = await Host.CreateTenantAsync();
        for (var i = 1; i <= 3; i++)
        {
            using var put = await client.PutAsync("/v1/rules", new StringContent($$$"""{"rules": [{"name": "r{{{i}}}", "then": {"priority": "low"}}]}""", System.Text.Encoding.UTF8, "application/json"), Ct);
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var good = await client.GetFromJsonAsync<JsonObject>("/v1/audit/verify", Ct);
        Assert.True(good!["ok"]!.GetValue<bool>());
        Assert.Equal(5, good["checked"]!.GetValue<long>());
        var fourth = (await EntriesAsync(client, "/v1/audit")).Single(e => e["seq"]!.GetValue<long>() == 4);

        // Someone with database access rewrites history: a rule change was "someone else's".
        await ExecuteSqlAsync($"UPDATE audit_entries SET actor = 'system' WHERE tenant_id = '{tenantId}' AND seq = 4");

        var broken = await client.GetFromJsonAsync<JsonObject>("/v1/audit/verify", Ct);
        Assert.False(broken!["ok"]!.GetValue<bool>());
        Assert.Equal(4, broken["firstBroken"]!["seq"]!.GetValue<long>());
        Assert.Equal(fourth.Str("id"), broken["firstBroken"]!.Str("id"));
        // The system key can check any tenant's chain.
        var bySystem = await Host.Admin.GetFromJsonAsync<JsonObject>($"/v1/admin/audit/verify?tenant={tenantId}", Ct);
        Assert.Equal(4, bySystem!["firstBroken"]!["seq"]!.GetValue<long>());
    }

    [Fact]
    public async Task KeyCreationAndRevocation_ThroughTheKeyEndpoints_LeaveEntries_WithoutTheKey()
    {
        var (_, client) = await Host.CreateTenantAsync("Key Audit Bank");
        using var created = await client.PostAsJsonAsync("/v1/keys", new { name = "ci pipeline", roles = new[] { "send" } }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = (await created.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        var keyId = body.Str("id")!;
        var secret = body.Str("key")!;
        using (var revoked = await client.DeleteAsync($"/v1/keys/{keyId}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        }

        var create = (await EntriesAsync(client, "/v1/audit?action=key.create")).Single(e => e.Str("diff")!.Contains("ci pipeline", StringComparison.Ordinal));
        var revoke = Assert.Single(await EntriesAsync(client, "/v1/audit?action=key.revoke"));

        Assert.Contains(body.Str("prefix")!, create.Str("diff"), StringComparison.Ordinal);
        Assert.Equal($"key/{keyId}", $"{revoke.Str("resourceType")}/{revoke.Str("resourceId")}");
        Assert.StartsWith("key ", revoke.Str("actor"), StringComparison.Ordinal);
        Assert.DoesNotContain(secret, create.ToJsonString(), StringComparison.Ordinal);
        Assert.True((await client.GetFromJsonAsync<JsonObject>("/v1/audit/verify", Ct))!["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task SystemChain_RecordsTenantCreationAndRefusedKeys_TenantChainRecordsKeys()
    {
        var (tenantId, client) = await Host.CreateTenantAsync("Audited Bank");
        var tenantCreated = Assert.Single(await EntriesAsync(Host.Admin, $"/v1/admin/audit?resource=tenant/{tenantId}&action=tenant.create"));
        Assert.Equal(AuditActor.System, tenantCreated.Str("actor"));
        Assert.Null(tenantCreated["tenant"]);
        var key = Assert.Single(await EntriesAsync(client, "/v1/audit?action=key.create"));
        Assert.Equal(AuditActor.System, key.Str("actor"));
        Assert.Contains("admin", key.Str("diff"), StringComparison.Ordinal);

        // Refused keys: counted per minute and prefix, written as one entry, not one per 401.
        using var stranger = Host.Client("hk_zzAud1-not-a-key");
        for (var i = 0; i < 3; i++)
        {
            using var refused = await stranger.GetAsync("/v1/rules", Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        await Host.Services.GetRequiredService<AuthRefusals>().FlushAsync(all: true, Ct);
        var counted = (await EntriesAsync(Host.Admin, $"/v1/admin/audit?action={AuthRefusals.Action}"))
            .Select(e => JsonNode.Parse(e.Str("diff")!)!["after"]!["byPrefix"]!["hk_zzAud1"]?.GetValue<long>() ?? 0).Sum();
        Assert.Equal(3, counted);

        // Only a tenant admin reads its trail; the system key reads the system chain under /v1/admin/audit.
        using var sendOnly = await Host.Admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles = new[] { "send" } }, Ct);
        using var sender = Host.Client((await sendOnly.Content.ReadFromJsonAsync<JsonObject>(Ct))!.Str("key"));
        Assert.Equal(HttpStatusCode.Forbidden, (await sender.GetAsync("/v1/audit", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Host.Admin.GetAsync("/v1/audit", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/v1/admin/audit", Ct)).StatusCode);
        Assert.True((await Host.Admin.GetFromJsonAsync<JsonObject>("/v1/admin/audit/verify", Ct))!["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task CustomerErasureAndRetentionSetting_AreRecorded_WithoutPersonalData()
    {
        var (_, client) = await Host.CreateTenantAsync();
        const string Phone = "+4915155501234";
        using (var put = await client.PutAsJsonAsync("/v1/customers/cust-audit-1", new { phone = Phone, language = "de" }, Ct))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using (var erase = await client.PostAsync("/v1/customers/cust-audit-1/erase", null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, erase.StatusCode);
        }

        using (var byPhone = await client.PostAsJsonAsync("/v1/erasures", new { phone = Phone }, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, byPhone.StatusCode);
        }

        using (var retention = await client.PutAsJsonAsync("/v1/settings/retention", new { days = 30 }, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, retention.StatusCode);
        }

        using var raw = await client.GetAsync("/v1/audit?action=customer.", Ct);
        var text = await raw.Content.ReadAsStringAsync(Ct);
        Assert.DoesNotContain("55501234", text, StringComparison.Ordinal);
        var customers = Items(JsonNode.Parse(text)!);
        Assert.Equal(["customer.erase", "customer.erase", "customer.create"], customers.Select(e => e.Str("action")));
        Assert.Equal(["contact", "cust-audit-1", "cust-audit-1"], customers.Select(e => e.Str("resourceId")));
        Assert.Equal(AuditRecorder.Personal, JsonNode.Parse(customers[2].Str("diff")!)!["after"]!["phone"]!.GetValue<string>());

        var setting = Assert.Single(await EntriesAsync(client, "/v1/audit?resource=settings/retention"));
        var diff = JsonNode.Parse(setting.Str("diff")!)!;
        Assert.Null(diff["before"]!["days"]);
        Assert.Equal(30, diff["after"]!["days"]!.GetValue<int>());
    }

    [Fact]
    public async Task SandboxControl_IsRecordedInTheSystemChain()
    {
        var key = "audit-" + Guid.NewGuid().ToString("N")[..12];
        using var sandbox = Host.SandboxClient();
        using (var start = await sandbox.PutAsync($"/sandbox/outages/{key}", null, Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, start.StatusCode);
        }

        using (var end = await sandbox.DeleteAsync($"/sandbox/outages/{key}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, end.StatusCode);
        }

        // A refused act (no such outage) and a read are not recorded.
        using (var again = await sandbox.DeleteAsync($"/sandbox/outages/{key}", Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        }

        using (var read = await sandbox.GetAsync("/sandbox/outages", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        var entries = await EntriesAsync(Host.Admin, $"/v1/admin/audit?resource=sandbox/outages/{key}");
        Assert.Equal(["sandbox.delete", "sandbox.put"], entries.Select(e => e.Str("action")));
        Assert.All(entries, e => Assert.Equal("sandbox-control", e.Str("actor")));
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string requestId)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Request-Id", requestId);
        request.Headers.Add("X-Forwarded-For", ClientAddress);
        return request;
    }

    private static async Task<List<JsonNode>> EntriesAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        return Items(JsonNode.Parse(text)!);
    }

    private static List<JsonNode> Items(JsonNode page) => [.. page["items"]!.AsArray().Select(i => i!)];
}
