using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>One embedded-style host (SQLite, sandbox in process) for the bridge's tests.</summary>
public sealed class SandboxBridgeHostFixture : IAsyncLifetime
{
    private readonly TempFolder _folder = new();

    public HeraldHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(_folder.Path));

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        _folder.Dispose();
    }
}

/// <summary>
/// <c>/v1/sandbox</c>, the tenant-scoped bridge to the in-process sandbox (issue #19's sandbox page): a tenant sees only
/// what arrived through its own accounts (matched by account and secret, so an account that merely names another
/// tenant's does not do), only admins put accounts out or change the latency (audited), a customer's answer goes only
/// to the tenant's own messages, viewers see no addresses, and without an in-process sandbox every path is 404.
/// </summary>
public sealed class SandboxBridgeTests(SandboxBridgeHostFixture fixture) : IClassFixture<SandboxBridgeHostFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private HeraldHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TwoTenants_SameCustomer_EachSeesOnlyWhatWentThroughItsOwnAccounts()
    {
        var (_, a) = await Host.CreateTenantAsync("Bridge A");
        var (_, b) = await Host.CreateTenantAsync("Bridge B");
        var phone = TestData.Phone();
        var fromA = await a.SendAsync(new { type = "payment.received", customer = new { phone }, channels = new[] { "sms" }, data = new { text = "From bank A" } });
        var fromB = await b.SendAsync(new { type = "payment.received", customer = new { phone }, channels = new[] { "whatsapp" }, data = new { text = "From bank B" } });
        await SentAsync(a, fromA);
        await b.WaitForStatusAsync(fromB, "delivered");

        var phoneA = await PhoneAsync(a, phone);
        var bubbleA = Assert.Single(phoneA["messages"]!.AsArray())!;
        Assert.Equal("sms", bubbleA.Str("channel"));
        Assert.Contains("From bank A", bubbleA.Str("text"), StringComparison.Ordinal);
        Assert.Equal("Sandbox SMS", bubbleA.Str("providerName"));
        var bubbleB = Assert.Single((await PhoneAsync(b, phone))["messages"]!.AsArray())!;
        Assert.Equal("whatsapp", bubbleB.Str("channel"));
        Assert.Contains("From bank B", bubbleB.Str("text"), StringComparison.Ordinal);
        // Herald's attempt behind it: the notification and the state its receipts reached.
        Assert.Equal(fromB, bubbleB["notificationId"]!.GetValue<Guid>());
        Assert.Equal("delivered", bubbleB.Str("state"));
        // The operator's own endpoint sees both: the bridge is what scopes them.
        Assert.Equal(2, (await a.SandboxMessagesAsync(to: phone)).Count);
    }

    [Fact]
    public async Task AnAccountNamingAnotherTenantsSmtpUser_WithoutItsPassword_SeesNone_OfItsMail()
    {
        var (victimId, victim) = await Host.CreateTenantAsync("Bridge victim");
        var (_, thief) = await Host.CreateTenantAsync("Bridge thief");
        // SMTP names no sender identity Herald keeps unique: any tenant may store an account with the victim's sandbox
        // user name (its tenant id). Only the password, random per sandbox account, tells the two apart.
        var smtp = (await Host.SandboxClient().GetFromJsonAsync<JsonObject>("/sandbox/smtp", Ct))!;
        using (var forged = await thief.PostAsJsonAsync("/v1/providers", new
        {
            channel = "email",
            kind = "smtp",
            name = "Forged",
            weight = 0,
            settings = new
            {
                host = smtp.Str("host"), port = smtp["port"]!.GetValue<int>(), security = "none",
                username = victimId.ToString(), password = "guessed", fromAddress = "x@thief.example",
            },
        }, Ct))
        {
            Assert.True(forged.IsSuccessStatusCode, await forged.Content.ReadAsStringAsync(Ct));
        }

        var email = $"ana.{Guid.NewGuid():N}@bank.example";
        var sent = await victim.SendAsync(new { type = "payment.received", customer = new { email }, channels = new[] { "email" }, data = new { text = "Statement ready" } });
        await SentAsync(victim, sent);

        Assert.Single((await PhoneAsync(victim, email))["messages"]!.AsArray());
        var thiefs = await PhonesAsync(thief);
        Assert.DoesNotContain(thiefs, p => p!.Str("address") == email);
        Assert.Empty(thiefs);
    }

    [Fact]
    public async Task OutagesAndLatency_AdminOnly_AndAudited_ANonAdminIsRefused_AndNothingChanges()
    {
        var (tenantId, admin) = await Host.CreateTenantAsync("Bridge controls");
        using var sender = await KeyAsync(tenantId, "send", "read");
        var controls = (await admin.GetFromJsonAsync<JsonObject>("/v1/sandbox/controls", Ct))!;
        var whatsApp = controls["accounts"]!.AsArray().Single(x => x.Str("channel") == "whatsapp")!;
        var id = whatsApp.Str("providerId");
        Assert.False(whatsApp["outage"]!.GetValue<bool>());

        using (var refused = await sender.PutAsync($"/v1/sandbox/outages/{id}", null, Ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var refused = await sender.PutAsJsonAsync("/v1/sandbox/latency", new { latencyMs = 500 }, Ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        var unchanged = (await sender.GetFromJsonAsync<JsonObject>("/v1/sandbox/controls", Ct))!;
        Assert.False(unchanged["accounts"]!.AsArray().Single(x => x.Str("providerId") == id)!["outage"]!.GetValue<bool>());
        Assert.Equal(0, unchanged["latencyMs"]!.GetValue<int>());

        using (var bad = await admin.PutAsJsonAsync("/v1/sandbox/latency", new { latencyMs = -1 }, Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("/latencyMs", (await bad.Content.ReadFromJsonAsync<JsonObject>(Ct))!["errors"]![0].Str("pointer"));
        }

        using (var started = await admin.PutAsync($"/v1/sandbox/outages/{id}", null, Ct))
        {
            started.EnsureSuccessStatusCode();
        }

        try
        {
            var outages = await Host.SandboxClient().GetFromJsonAsync<JsonArray>("/sandbox/outages", Ct);
            Assert.Single(outages!);
            var phone = TestData.Phone();
            var fallback = await admin.SendAsync(new { type = "payment.received", customer = new { phone }, channels = new[] { "whatsapp", "sms" } });
            var delivered = await SentAsync(admin, fallback);
            Assert.Equal("sms", delivered.Str("channel"));
            var audit = await admin.GetStringAsync($"/v1/audit?resource=provider/{id}", Ct);
            Assert.Contains("sandbox.outage.start", audit, StringComparison.Ordinal);
        }
        finally
        {
            using var ended = await admin.DeleteAsync($"/v1/sandbox/outages/{id}", Ct);
            ended.EnsureSuccessStatusCode();
        }

        Assert.Empty((await Host.SandboxClient().GetFromJsonAsync<JsonArray>("/sandbox/outages", Ct))!);
        Assert.Contains("sandbox.outage.end", await admin.GetStringAsync($"/v1/audit?resource=provider/{id}", Ct), StringComparison.Ordinal);

        // The account's own latency: admin only, audited, that account only.
        using (var refused = await sender.PutAsJsonAsync($"/v1/sandbox/latency/{id}", new { latencyMs = 2000 }, Ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var slowed = await admin.PutAsJsonAsync($"/v1/sandbox/latency/{id}", new { latencyMs = 2000 }, Ct))
        {
            slowed.EnsureSuccessStatusCode();
            var accounts = (await slowed.Content.ReadFromJsonAsync<JsonObject>(Ct))!["accounts"]!.AsArray();
            Assert.Equal(2000, accounts.Single(x => x.Str("providerId") == id)!["latencyMs"]!.GetValue<int>());
            Assert.All(accounts.Where(x => x.Str("providerId") != id), x => Assert.Equal(0, x!["latencyMs"]!.GetValue<int>()));
        }

        using (var restored = await admin.PutAsJsonAsync($"/v1/sandbox/latency/{id}", new { latencyMs = 0 }, Ct))
        {
            restored.EnsureSuccessStatusCode();
        }

        Assert.Contains("sandbox.latency", await admin.GetStringAsync($"/v1/audit?resource=provider/{id}", Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnOutageOfAnotherTenantsAccount_IsNotFound()
    {
        var (_, a) = await Host.CreateTenantAsync("Bridge own A");
        var (_, b) = await Host.CreateTenantAsync("Bridge own B");
        var ofB = (await b.GetFromJsonAsync<JsonObject>("/v1/sandbox/controls", Ct))!["accounts"]![0].Str("providerId");
        using var refused = await a.PutAsync($"/v1/sandbox/outages/{ofB}", null, Ct);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        using var slowed = await a.PutAsJsonAsync($"/v1/sandbox/latency/{ofB}", new { latencyMs = 1000 }, Ct);
        Assert.Equal(HttpStatusCode.NotFound, slowed.StatusCode);
        Assert.All((await b.GetFromJsonAsync<JsonObject>("/v1/sandbox/controls", Ct))!["accounts"]!.AsArray(), x => Assert.Equal(0, x!["latencyMs"]!.GetValue<int>()));
        Assert.Empty((await Host.SandboxClient().GetFromJsonAsync<JsonArray>("/sandbox/outages", Ct))!);
    }

    [Fact]
    public async Task TappingAFraudAlertsButton_IsRecordedOnTheNotification_AndAnotherTenantCannotAnswerIt()
    {
        var (_, bank) = await Host.CreateTenantAsync("Bridge replies");
        var (_, other) = await Host.CreateTenantAsync("Bridge other");
        var phone = TestData.Phone();
        var id = await bank.SendAsync(new
        {
            type = "fraud.alert",
            customer = new { id = "ana", phone },
            channels = new[] { "whatsapp" },
            data = new { text = "Card *1234: 950.00 EUR. Was this you?" },
            actions = new object[] { new { id = "confirm", title = "Yes, it was me" }, new { id = "block", title = "No, block it" } },
            replyTtl = "1h",
        });
        await bank.WaitForStatusAsync(id, "delivered");
        var bubble = Assert.Single((await PhoneAsync(bank, phone))["messages"]!.AsArray())!;
        Assert.Equal(["confirm", "block"], bubble["buttons"]!.AsArray().Select(b => b.Str("id")));

        using (var foreign = await other.PostAsJsonAsync("/v1/sandbox/replies", new { messageId = bubble.Str("id"), actionId = "block" }, Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        }

        using (var answered = await bank.PostAsJsonAsync("/v1/sandbox/replies", new { messageId = bubble.Str("id"), actionId = "block" }, Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, answered.StatusCode);
        }

        var reply = await WaitAsync(async () => (await bank.GetNotificationAsync(id))["replies"]?.AsArray() is [var r] ? r : null);
        Assert.Equal("block", reply.Str("actionId"));

        // Bad input is located and sends nothing: no message id; a button on an SMS (the customer types there).
        using (var bad = await bank.PostAsJsonAsync("/v1/sandbox/replies", new { actionId = "block" }, Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("/messageId", (await bad.Content.ReadFromJsonAsync<JsonObject>(Ct))!["errors"]![0].Str("pointer"));
        }

        // A typed answer to an SMS goes back as Twilio's incoming-message webhook, signed with the account's token.
        var sms = await bank.SendAsync(new
        {
            type = "fraud.alert", customer = new { id = "ana", phone }, channels = new[] { "sms" },
            data = new { text = "Card *1234: 20.00 EUR. Was this you?" },
            actions = new object[] { new { id = "confirm", title = "Yes" }, new { id = "block", title = "No" } },
            replyTtl = "1h",
        });
        var smsBubble = await WaitAsync(async () => (await PhoneAsync(bank, phone))["messages"]!.AsArray().FirstOrDefault(m => m!.Str("channel") == "sms"));
        using (var button = await bank.PostAsJsonAsync("/v1/sandbox/replies", new { messageId = smsBubble.Str("id"), actionId = "block" }, Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, button.StatusCode);
        }

        using (var typed = await bank.PostAsJsonAsync("/v1/sandbox/replies", new { messageId = smsBubble.Str("id"), text = "NO" }, Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, typed.StatusCode);
        }

        await WaitAsync(async () => (await bank.GetNotificationAsync(sms))["replies"]?.AsArray() is [var r] ? r : null);
    }

    [Fact]
    public async Task AViewer_SeesTheBubbles_ButNoAddress()
    {
        var (tenantId, bank) = await Host.CreateTenantAsync("Bridge viewer");
        using var viewer = await KeyAsync(tenantId, "viewer");
        var phone = TestData.Phone();
        var id = await bank.SendAsync(new { type = "payment.received", customer = new { phone }, channels = new[] { "sms" }, data = new { text = "Hello" } });
        await SentAsync(bank, id);

        var raw = await viewer.GetStringAsync("/v1/sandbox/messages", Ct);
        Assert.DoesNotContain(phone[1..], raw, StringComparison.Ordinal);
        var seen = Assert.Single(JsonNode.Parse(raw)!["phones"]!.AsArray())!;
        Assert.Equal("[redacted]", seen.Str("address"));
        Assert.Single(seen["messages"]!.AsArray());
    }

    [Fact]
    public async Task WithoutAnInProcessSandbox_EveryPathIs404ProblemJson()
    {
        using var folder = new TempFolder();
        var settings = HeraldHost.SqliteSettings(folder.Path);
        settings["Herald:Sandbox:Enabled"] = "false";
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);
        var (_, tenant) = await host.CreateTenantAsync();
        foreach (var (method, path) in new[] { ("GET", "/v1/sandbox/messages"), ("GET", "/v1/sandbox/controls"), ("PUT", $"/v1/sandbox/outages/{Guid.NewGuid()}") })
        {
            using var response = await tenant.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    /// <summary>The notification once its message went out (sent, or already delivered: SMS receipts come quickly).</summary>
    private static async Task<JsonObject> SentAsync(HttpClient client, Guid id) =>
        (JsonObject)await WaitAsync(async () => await client.GetNotificationAsync(id) is var n && n.Str("status") is "sent" or "delivered" ? n : null);

    private async Task<HttpClient> KeyAsync(Guid tenantId, params string[] roles)
    {
        using var created = await Host.Admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles }, Ct);
        created.EnsureSuccessStatusCode();
        return Host.Client((await created.Content.ReadFromJsonAsync<JsonObject>(Ct))!.Str("key"));
    }

    private static async Task<JsonArray> PhonesAsync(HttpClient client) =>
        (await client.GetFromJsonAsync<JsonObject>("/v1/sandbox/messages", Ct))!["phones"]!.AsArray();

    /// <summary>The phone of <paramref name="address"/>, once the sandbox has it (a send is recorded as it is accepted).</summary>
    private static Task<JsonNode> PhoneAsync(HttpClient client, string address) =>
        WaitAsync(async () => (await client.GetFromJsonAsync<JsonObject>($"/v1/sandbox/messages?recipient={Uri.EscapeDataString(address)}", Ct))!["phones"]!.AsArray() is [var p] ? p : null);

    private static async Task<JsonNode> WaitAsync(Func<Task<JsonNode?>> read)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        while (true)
        {
            if (await read() is { } found)
            {
                return found;
            }

            await Task.Delay(50, timeout.Token);
        }
    }
}
