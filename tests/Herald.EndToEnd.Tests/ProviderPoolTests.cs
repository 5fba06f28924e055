using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Npgsql;

namespace Herald.EndToEnd.Tests;

/// <summary>A host whose circuits open after two failures and break for one second, and whose default cost
/// policy is <c>cheapest</c> (the rules engine sets it per route; without a rule the configured default holds).</summary>
public sealed class ProviderPoolHostFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public HeraldHost Host { get; private set; } = null!;

    public string ConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        ConnectionString = await postgres.CreateDatabaseAsync("e2e_pool_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(ConnectionString);
        settings["Herald:Channels:CircuitMinimumThroughput"] = "2";
        settings["Herald:Channels:CircuitFailureRatio"] = "0.5";
        settings["Herald:Channels:CircuitBreakDuration"] = "00:00:01";
        settings["Herald:Channels:DefaultCostPolicy"] = "cheapest";
        Host = await HeraldHost.StartAsync(Herald.Server.Hosting.HeraldRole.All, settings);
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>Issue #3 "done when", end to end on PostgreSQL: pools of sandbox accounts of one channel, outages of one
/// account, failover, the circuit, recovery and the cheapest policy; and the /v1/providers and cost report API.</summary>
public sealed class ProviderPoolTests(ProviderPoolHostFixture fixture) : IClassFixture<ProviderPoolHostFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private HeraldHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Outage_OpensCircuit_TrafficMovesToOtherAccount_ThenReturnsAfterBreak()
    {
        var (_, client) = await NewTenantAsync();
        var primary = await SandboxSmsAsync(client);
        var primarySid = primary["settings"].Str("accountSid");
        var backup = await CreateSmsAccountAsync(client, "Backup SMS", weight: 0);
        var backupSid = backup["settings"].Str("accountSid");

        // Healthy: the weighted account takes the send; the standby does not.
        Assert.Equal(primarySid, await SendSmsAndGetAccountAsync(client));

        await StartOutageAsync(primarySid);
        try
        {
            // The first send during the outage is refused by the primary and fails over at once: two attempts.
            var phone = TestData.Phone();
            var id = await client.SendAsync(new { type = "account.balance", channels = new[] { "sms" }, customer = new { phone }, data = new { text = "Balance" } });
            var n = await client.WaitForStatusAsync(id, "delivered");
            var attempts = n.Attempts();
            Assert.Equal(2, attempts.Count);
            Assert.Equal("Sandbox SMS", attempts[0].Str("provider"));
            Assert.Equal("failed", attempts[0].Str("state"));
            Assert.Equal("transient", attempts[0].Str("failureKind"));
            Assert.Equal("Backup SMS", attempts[1].Str("provider"));
            Assert.Equal(backupSid, Assert.Single(await client.SandboxMessagesAsync("sms", phone)).Str("account"));

            // The circuit opens; then the primary is not even tried.
            await TestData.EventuallyAsync(
                async () =>
                {
                    await SendSmsAndGetAccountAsync(client);
                    return await HealthAsync(client, primary.Str("id"));
                },
                h => h == "open", Deadline, "the primary's circuit to open");
            var during = TestData.Phone();
            var single = await client.SendAsync(new { type = "account.balance", channels = new[] { "sms" }, customer = new { phone = during }, data = new { text = "x" } });
            var delivered = await client.WaitForStatusAsync(single, "delivered");
            // The answer comes from the backup (a half-open probe of the primary, when the break ran out meanwhile, fails over).
            Assert.Equal("Backup SMS", delivered.Attempts()[^1].Str("provider"));
        }
        finally
        {
            await EndOutageAsync(primarySid);
        }

        // After the break a probe goes to the primary again and traffic returns to it.
        await TestData.EventuallyAsync(() => SendSmsAndGetAccountAsync(client), sid => sid == primarySid, Deadline, "traffic to return to the primary");
        Assert.Equal("closed", await HealthAsync(client, primary.Str("id")));
        Assert.Equal(primarySid, await SendSmsAndGetAccountAsync(client));
    }

    [Fact]
    public async Task Cheapest_CheaperAccountTakesSends_OtherWhenItIsOut_CostsRecordedAndReported()
    {
        var (tenantId, client) = await NewTenantAsync();
        var dear = await SandboxSmsAsync(client);
        var dearSid = dear["settings"].Str("accountSid");
        using (var patch = await client.PatchAsJsonAsync($"/v1/providers/{dear.Str("id")}", new { currency = "EUR", prices = new Dictionary<string, decimal> { ["*"] = 0.09m } }, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        var cheap = await CreateSmsAccountAsync(client, "Cheap SMS", weight: 1, prices: new Dictionary<string, decimal> { ["*"] = 0.5m, ["DE"] = 0.02m });
        var cheapSid = cheap["settings"].Str("accountSid");

        for (var i = 0; i < 3; i++)
        {
            var (account, cost) = await SendSmsAsync(client);
            Assert.Equal(cheapSid, account);
            Assert.Equal(0.02m, cost);
        }

        await StartOutageAsync(cheapSid);
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var (account, cost) = await SendSmsAsync(client);
                Assert.Equal(dearSid, account);
                Assert.Equal(0.09m, cost);
            }
        }
        finally
        {
            await EndOutageAsync(cheapSid);
        }

        var report = (await client.GetFromJsonAsync<JsonObject>("/v1/reports/costs?groupBy=provider", Ct))!;
        var totals = report["totals"]!.AsArray();
        var cheapRow = totals.Single(t => t.Str("providerId") == cheap.Str("id"));
        var dearRow = totals.Single(t => t.Str("providerId") == dear.Str("id"));
        Assert.Equal(0.06m, cheapRow!["cost"]!.GetValue<decimal>());
        Assert.Equal(0.27m, dearRow!["cost"]!.GetValue<decimal>());
        Assert.Equal(3, dearRow["attempts"]!.GetValue<long>());
        Assert.Equal("EUR", dearRow.Str("currency"));
        // The refusals during the outage were attempts on the cheap account that cost nothing.
        Assert.True(cheapRow["attempts"]!.GetValue<long>() >= 4);

        // The system key reads any tenant's report; without naming one it is told to.
        var asSystem = (await Host.Admin.GetFromJsonAsync<JsonObject>($"/v1/reports/costs?tenantId={tenantId}", Ct))!;
        Assert.Equal(0.33m, asSystem["totals"]!.AsArray().Single()!["cost"]!.GetValue<decimal>());
        using var unnamed = await Host.Admin.GetAsync("/v1/reports/costs", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, unnamed.StatusCode);
    }

    [Fact]
    public async Task ProvidersApi_ValidatesRedactsEncryptsIsolatesAndIsTenantScoped()
    {
        var (tenantA, a) = await NewTenantAsync("Bank A");
        var (_, b) = await NewTenantAsync("Bank B");
        var primary = await SandboxSmsAsync(a);
        var other = await CreateSmsAccountAsync(a, "Other SMS", weight: 0);
        var otherId = other.Str("id");

        // Secrets are redacted on read and encrypted in the database.
        Assert.Equal("********", other["settings"].Str("authToken"));
        await using (var db = new NpgsqlConnection(fixture.ConnectionString))
        {
            await db.OpenAsync(Ct);
            await using var cmd = new NpgsqlCommand("SELECT settings FROM provider_accounts WHERE id = @id", db);
            cmd.Parameters.AddWithValue("id", Guid.Parse(otherId));
            var raw = (string)(await cmd.ExecuteScalarAsync(Ct))!;
            Assert.StartsWith("enc:v1:", raw, StringComparison.Ordinal);
            Assert.DoesNotContain("backup-token", raw, StringComparison.Ordinal);
        }

        // Validation: located errors, nothing stored.
        using (var bad = await a.PostAsJsonAsync("/v1/providers", new { channel = "sms", kind = "whatsapp-cloud", name = "x", settings = new { } }, Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var problem = (await bad.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.Contains(problem["errors"]!.AsArray(), e => e.Str("pointer") == "/kind");
        }

        using (var missing = await a.PostAsJsonAsync("/v1/providers", new { channel = "sms", kind = "twilio-sms", name = "x", settings = new { from = "+1555" }, prices = new Dictionary<string, decimal> { ["Germany"] = 1 } }, Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            var pointers = (await missing.Content.ReadFromJsonAsync<JsonObject>(Ct))!["errors"]!.AsArray().Select(e => e.Str("pointer")).ToArray();
            Assert.Contains("/settings/accountSid", pointers);
            Assert.Contains("/settings/authToken", pointers);
            Assert.Contains("/prices/Germany", pointers);
        }

        Assert.Equal(2, (await a.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Count(p => p.Str("channel") == "sms"));

        // Another tenant sees none of it and can change none of it.
        Assert.DoesNotContain((await b.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!, p => p.Str("id") == otherId);
        foreach (var response in new[]
        {
            await b.GetAsync($"/v1/providers/{otherId}", Ct),
            await b.PatchAsJsonAsync($"/v1/providers/{otherId}", new { name = "mine" }, Ct),
            await b.PostAsync($"/v1/providers/{otherId}/isolate", null, Ct),
            await b.DeleteAsync($"/v1/providers/{otherId}", Ct),
        })
        {
            using (response)
            {
                Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            }
        }

        // PATCH without the secret keeps it: the account still sends (the sandbox echoes the SID it was called with).
        using (var rename = await a.PatchAsJsonAsync($"/v1/providers/{otherId}", new { name = "Renamed", weight = 10, settings = new { from = "+15005550007" } }, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, rename.StatusCode);
            var renamed = (await rename.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.Equal("Renamed", renamed.Str("name"));
            Assert.Equal("********", renamed["settings"].Str("authToken"));
        }

        // Isolating the primary moves traffic to the other account; a reset brings it back.
        using (var isolate = await a.PostAsync($"/v1/providers/{primary.Str("id")}/isolate", null, Ct))
        {
            Assert.Equal("isolated", (await isolate.Content.ReadFromJsonAsync<JsonObject>(Ct)).Str("health"));
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(other["settings"].Str("accountSid"), await SendSmsAndGetAccountAsync(a));
        }

        using (var reset = await a.PostAsync($"/v1/providers/{primary.Str("id")}/reset", null, Ct))
        {
            Assert.Equal("closed", (await reset.Content.ReadFromJsonAsync<JsonObject>(Ct)).Str("health"));
        }

        // Deleted: gone from the API and from routing; the tenant's key with only "read" may not change anything.
        using (var delete = await a.DeleteAsync($"/v1/providers/{otherId}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using (var gone = await a.GetAsync($"/v1/providers/{otherId}", Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        var readKey = await Host.Admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantA}/keys", new { roles = new[] { "read" } }, Ct);
        using var reader = Host.Client((await readKey.Content.ReadFromJsonAsync<JsonObject>(Ct)).Str("key"));
        Assert.NotEmpty((await reader.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!);
        using var forbidden = await reader.PostAsync($"/v1/providers/{primary.Str("id")}/isolate", null, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
    }

    /// <summary>A tenant whose SMS pool is only the sandbox's REST account: the sandbox SMPP standby is removed, so each
    /// test controls exactly which SMS accounts exist.</summary>
    private async Task<(Guid TenantId, HttpClient Client)> NewTenantAsync(string name = "Test Bank")
    {
        var (tenantId, client) = await Host.CreateTenantAsync(name);
        foreach (var smpp in (await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Where(p => p.Str("kind") == "smpp"))
        {
            using var deleted = await client.DeleteAsync($"/v1/providers/{smpp.Str("id")}", Ct);
            Assert.True(deleted.IsSuccessStatusCode, $"DELETE smpp account: {(int)deleted.StatusCode}");
        }

        return (tenantId, client);
    }

    private static async Task<JsonObject> SandboxSmsAsync(HttpClient client) =>
        (JsonObject)(await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Single(p => p.Str("kind") == "twilio-sms")!;

    private async Task<JsonObject> CreateSmsAccountAsync(HttpClient client, string name, int weight, Dictionary<string, decimal>? prices = null)
    {
        var sid = "AC" + Guid.NewGuid().ToString("N");
        using var response = await client.PostAsJsonAsync(
            "/v1/providers",
            new
            {
                channel = "sms",
                kind = "twilio-sms",
                name,
                weight,
                currency = prices is null ? null : "EUR",
                prices,
                settings = new
                {
                    baseUrl = Host.BaseUrl + "/sandbox/sms",
                    accountSid = sid,
                    authToken = "backup-token",
                    from = "+15005550006",
                    statusCallbackUrl = Host.BaseUrl + "/callbacks/sms/{providerId}",
                },
            },
            Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>Sends one SMS notification, waits for it, and returns the sandbox account that took it and its cost.</summary>
    private static async Task<(string Account, decimal? Cost)> SendSmsAsync(HttpClient client)
    {
        var phone = TestData.Phone();
        var id = await client.SendAsync(new { type = "account.balance", channels = new[] { "sms" }, customer = new { phone }, data = new { text = "Balance" } });
        var n = await client.WaitForStatusAsync(id, "delivered");
        var answered = n.Attempts()[^1]!;
        return (Assert.Single(await client.SandboxMessagesAsync("sms", phone)).Str("account"), answered["cost"]?.GetValue<decimal>());
    }

    private static async Task<string> SendSmsAndGetAccountAsync(HttpClient client) => (await SendSmsAsync(client)).Account;

    private static async Task<string> HealthAsync(HttpClient client, string id) =>
        (await client.GetFromJsonAsync<JsonObject>($"/v1/providers/{id}", Ct)).Str("health");

    private async Task StartOutageAsync(string key)
    {
        using var sandbox = Host.SandboxClient();
        using var response = await sandbox.PutAsync($"/sandbox/outages/{key}", null, Ct);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    private async Task EndOutageAsync(string key)
    {
        using var sandbox = Host.SandboxClient();
        using var response = await sandbox.DeleteAsync($"/sandbox/outages/{key}", CancellationToken.None);
    }
}
