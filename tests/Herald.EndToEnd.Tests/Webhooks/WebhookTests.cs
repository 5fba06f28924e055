using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Herald.Server.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests.Webhooks;

/// <summary>PostgreSQL host with quick webhook retries, on a clock the tests move to end the retry window.</summary>
public sealed class WebhookHostFixture(PostgresFixture postgres) : IAsyncLifetime
{
    /// <summary>Ten minutes of the host's clock: ended by moving the clock, never by waiting for it, so a loaded machine
    /// can neither end it early (a redelivery dead again before its retry) nor late (a test waiting past its deadline).</summary>
    public static readonly TimeSpan RetryWindow = TimeSpan.FromMinutes(10);

    public HeraldHost Host { get; private set; } = null!;

    public ShiftedTimeProvider Clock { get; } = new();

    public async ValueTask InitializeAsync()
    {
        var settings = HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_webhooks_" + Guid.NewGuid().ToString("N")[..8]));
        settings["Herald:Webhooks:AllowInsecureUrls"] = "true";
        settings["Herald:Webhooks:RetryBaseDelay"] = "00:00:00.050";
        settings["Herald:Webhooks:RetryMaxDelay"] = "00:00:00.300";
        settings["Herald:Webhooks:PollInterval"] = "00:00:00.050";
        settings["Herald:Webhooks:RetryWindow"] = RetryWindow.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
        settings["Herald:Webhooks:Timeout"] = "00:00:02";
        Host = await HeraldHost.StartAsync(HeraldRole.All, settings, configure: builder => builder.Services.AddSingleton<TimeProvider>(Clock));
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>Issue #5 item 4: final states reach the bank as signed webhooks through a durable queue with retries.</summary>
public sealed class WebhookTests(WebhookHostFixture fixture) : IClassFixture<WebhookHostFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private HeraldHost Host => fixture.Host;

    /// <summary>Issue #18: with tracing off (no OTLP endpoint), the bank's traceparent on the POST still comes back on
    /// the webhook, so the bank's own tracing joins the two; a POST without one gets a webhook without one.</summary>
    [Fact]
    public async Task TheBanksTraceparent_ComesBackOnItsWebhook_WithTracingOff()
    {
        await using var receiver = new WebhookReceiver();
        await receiver.StartAsync();
        var (_, client) = await Host.CreateTenantAsync();
        await CreateEndpointAsync(client, receiver.Url);
        var traceParent = $"00-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..8])}-01";

        using var traced = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications")
        {
            Content = JsonContent.Create(new { type = "card.transaction", customer = new { telegramChatId = "771" }, data = new { text = "Paid" } }),
        };
        traced.Headers.Add("traceparent", traceParent);
        using var accepted = await client.SendAsync(traced);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var tracedId = (await accepted.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        var untracedId = await client.SendAsync(new { type = "card.transaction", customer = new { telegramChatId = "772" }, data = new { text = "Paid" } });

        var events = await WaitForEventsAsync(receiver, 2);
        var byNotification = events.ToDictionary(e => e.Json["data"]!["notificationId"]!.GetValue<Guid>(), e => e.Received);
        Assert.Equal(traceParent, byNotification[tracedId].TraceParent);
        Assert.Equal("", byNotification[untracedId].TraceParent);
    }

    [Fact]
    public async Task FinalStates_ReachTheBank_SignedWithTheEndpointSecret()
    {
        await using var receiver = new WebhookReceiver();
        await receiver.StartAsync();
        var (_, client) = await Host.CreateTenantAsync();
        var secret = await CreateEndpointAsync(client, receiver.Url);

        var delivered = await client.SendAsync(new { type = "card.transaction", externalId = "tx-1", customer = new { phone = TestData.Phone() }, data = new { text = "Paid" } });
        var failed = await client.SendAsync(new { type = "service.news", customer = new { email = "x@bounce.test" }, data = new { text = "News" } });

        var events = await WaitForEventsAsync(receiver, 2);
        var byNotification = events.ToDictionary(e => e.Json["data"]!["notificationId"]!.GetValue<Guid>());
        Assert.Equal("notification.delivered", byNotification[delivered].Json.Str("type"));
        Assert.Equal("tx-1", byNotification[delivered].Json["data"].Str("externalId"));
        Assert.Equal("whatsapp", byNotification[delivered].Json["data"].Str("channel"));
        Assert.Equal("notification.failed", byNotification[failed].Json.Str("type"));
        foreach (var (received, json) in events)
        {
            Assert.True(WebhookSignature.Verify(secret, received.Signature, received.Body, fixture.Clock.GetUtcNow(), TimeSpan.FromMinutes(5)), received.Signature);
            Assert.False(WebhookSignature.Verify(secret + "x", received.Signature, received.Body, fixture.Clock.GetUtcNow(), TimeSpan.FromMinutes(5)));
            Assert.Equal(json.Str("id"), received.EventId);
            Assert.DoesNotContain("+49", Encoding.UTF8.GetString(received.Body), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EndpointDown_ReceivesEveryEventOnceItIsBack()
    {
        await using var receiver = new WebhookReceiver();
        var (_, client) = await Host.CreateTenantAsync();
        await CreateEndpointAsync(client, receiver.Url);
        var ids = new List<Guid>();
        for (var i = 0; i < 10; i++)
        {
            ids.Add(await client.SendAsync(new { type = "account.balance", customer = new { phone = TestData.Phone() }, data = new { text = $"Balance {i}" } }));
        }

        foreach (var id in ids)
        {
            await client.WaitForStatusAsync(id, "delivered");
        }

        // Deliveries have been tried against the closed port by now and wait for their next try.
        await WaitUntilAsync(async () => (await PendingTriedAsync(client)) == ids.Count);
        await receiver.StartAsync();

        var events = await WaitForEventsAsync(receiver, ids.Count);
        Assert.Equal(ids.Order(), events.Select(e => e.Json["data"]!["notificationId"]!.GetValue<Guid>()).Distinct().Order());
        Assert.Contains(events, e => int.Parse(e.Received.Attempt, System.Globalization.CultureInfo.InvariantCulture) > 1);
    }

    [Fact]
    public async Task RetryWindowOver_DeliveryIsDead_AndRedeliveryBringsItHome()
    {
        await using var receiver = new WebhookReceiver { Status = 500 };
        await receiver.StartAsync();
        var (_, client) = await Host.CreateTenantAsync();
        await CreateEndpointAsync(client, receiver.Url);
        var id = await client.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() }, data = new { text = "Hi" } });

        await EndRetryWindowAsync(client, [id]);
        JsonObject? dead = null;
        await WaitUntilAsync(async () =>
        {
            var page = await client.GetFromJsonAsync<JsonObject>("/v1/webhooks/deliveries?state=dead");
            dead = page!["items"]!.AsArray().Select(x => x!.AsObject()).FirstOrDefault(x => x["notificationId"]!.GetValue<Guid>() == id);
            return dead is not null;
        });
        Assert.NotNull(dead);
        Assert.Equal("HTTP 500", // the status only: the reason phrase is the far end's text (issue #13)
            dead.Str("lastError"));
        Assert.True(dead["attempts"]!.GetValue<int>() > 1);

        receiver.Status = 200;
        var before = receiver.Received.Count;
        using var redeliver = await client.PostAsync($"/v1/webhooks/deliveries/{dead.Str("id")}/redeliver", null);
        Assert.Equal(HttpStatusCode.Accepted, redeliver.StatusCode);

        await WaitUntilAsync(async () =>
            (await client.GetFromJsonAsync<JsonObject>($"/v1/webhooks/deliveries/{dead.Str("id")}"))!.Str("state") == "succeeded");
        Assert.True(receiver.Received.Count > before);
    }

    [Fact]
    public async Task LongOutage_DeadLettersRedeliveredInBulk_GetANewRetryWindow_AndArrive()
    {
        await using var receiver = new WebhookReceiver { Status = 503 };
        await receiver.StartAsync();
        var (_, client) = await Host.CreateTenantAsync();
        await CreateEndpointAsync(client, receiver.Url);
        var endpoint = Assert.Single((await client.GetFromJsonAsync<JsonArray>("/v1/webhooks"))!)!["id"]!.GetValue<Guid>();
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await client.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() }, data = new { text = $"Outage {i}" } }));
        }

        await EndRetryWindowAsync(client, ids);
        await WaitUntilAsync(async () => (await DeadAsync(client)).Count(d => ids.Contains(d["notificationId"]!.GetValue<Guid>())) == ids.Count);
        var deadTries = (await DeadAsync(client)).Where(d => ids.Contains(d["notificationId"]!.GetValue<Guid>())).Max(d => d["attempts"]!.GetValue<int>());

        using var unknown = await client.PostAsJsonAsync("/v1/webhooks/deliveries/redeliver", new { endpointId = Guid.NewGuid() });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var bulk = await client.PostAsJsonAsync("/v1/webhooks/deliveries/redeliver", new { endpointId = endpoint });
        Assert.Equal(HttpStatusCode.Accepted, bulk.StatusCode);
        Assert.Equal(ids.Count, (await bulk.Content.ReadFromJsonAsync<JsonObject>())!["redelivered"]!.GetValue<int>());

        // Still down: each redelivered event is tried, fails and waits for its next try instead of going dead at once
        // (the retry window starts again at the redelivery).
        await WaitUntilAsync(async () =>
        {
            var page = await client.GetFromJsonAsync<JsonObject>("/v1/webhooks/deliveries?state=pending&limit=200");
            return page!["items"]!.AsArray().Count(d => ids.Contains(d!["notificationId"]!.GetValue<Guid>()) && d["attempts"]!.GetValue<int>() > deadTries) == ids.Count;
        });
        Assert.DoesNotContain(await DeadAsync(client), d => ids.Contains(d["notificationId"]!.GetValue<Guid>()));

        receiver.Status = 200;
        await WaitUntilAsync(async () =>
        {
            var page = await client.GetFromJsonAsync<JsonObject>("/v1/webhooks/deliveries?state=succeeded");
            return page!["items"]!.AsArray().Count(d => ids.Contains(d!["notificationId"]!.GetValue<Guid>())) == ids.Count;
        }, TimeSpan.FromSeconds(60));
    }

    /// <summary>Once every notification's webhook delivery has a failed try recorded (so it exists, and that try was
    /// judged inside its window), moves the host's clock past the retry window: the next failed try makes each dead.</summary>
    private async Task EndRetryWindowAsync(HttpClient client, IReadOnlyCollection<Guid> ids)
    {
        await WaitUntilAsync(async () =>
        {
            var page = await client.GetFromJsonAsync<JsonObject>("/v1/webhooks/deliveries?state=pending&limit=200");
            return page!["items"]!.AsArray().Count(d => ids.Contains(d!["notificationId"]!.GetValue<Guid>()) && d["lastError"] is not null) == ids.Count;
        });
        fixture.Clock.Advance(WebhookHostFixture.RetryWindow + TimeSpan.FromSeconds(1));
    }

    private static async Task<List<JsonObject>> DeadAsync(HttpClient client) =>
        [.. (await client.GetFromJsonAsync<JsonObject>("/v1/webhooks/deliveries?state=dead&limit=200"))!["items"]!.AsArray().Select(x => x!.AsObject())];

    [Fact]
    public async Task Api_ValidatesLocatesAndIsolatesTenants()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var (_, other) = await Host.CreateTenantAsync("Other Bank");

        using var bad = await client.PostAsJsonAsync("/v1/webhooks", new { url = "ftp://bank.example/x", statuses = new[] { "delivered", "sending" } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = await bad.Content.ReadFromJsonAsync<JsonObject>();
        var pointers = problem!["errors"]!.AsArray().Select(e => e.Str("pointer")).ToList();
        Assert.Equal(["/url", "/statuses/1"], pointers);

        using var unknown = await client.PostAsJsonAsync("/v1/webhooks", new { url = "https://bank.example/x", colour = "red" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        using var credentials = await client.PostAsJsonAsync("/v1/webhooks", new { url = "https://user:pw@bank.example/x" });
        Assert.Equal(HttpStatusCode.BadRequest, credentials.StatusCode);
        Assert.Empty((await client.GetFromJsonAsync<JsonArray>("/v1/webhooks"))!);

        using var created = await client.PostAsJsonAsync("/v1/webhooks", new { url = "https://bank.example/x", statuses = new[] { "failed" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var endpoint = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.StartsWith("whsec_", endpoint.Str("secret"), StringComparison.Ordinal);
        var id = endpoint.Str("id");

        var read = (await client.GetFromJsonAsync<JsonObject>($"/v1/webhooks/{id}"))!;
        Assert.Null(read["secret"]);
        Assert.Equal(["failed"], read["statuses"]!.AsArray().Select(s => s!.GetValue<string>()));

        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.DeleteAsync($"/v1/webhooks/{id}")).StatusCode);
        Assert.Empty((await other.GetFromJsonAsync<JsonArray>("/v1/webhooks"))!);

        using var rotated = await client.PostAsync($"/v1/webhooks/{id}/rotate-secret", null);
        var rotatedSecret = (await rotated.Content.ReadFromJsonAsync<JsonObject>())!.Str("secret");
        Assert.NotEqual(endpoint.Str("secret"), rotatedSecret);

        using var patched = await client.PatchAsJsonAsync($"/v1/webhooks/{id}", new { enabled = false });
        Assert.False((await patched.Content.ReadFromJsonAsync<JsonObject>())!["enabled"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/v1/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/webhooks/{id}")).StatusCode);
    }

    private static async Task<string> CreateEndpointAsync(HttpClient client, string url)
    {
        using var response = await client.PostAsJsonAsync("/v1/webhooks", new { url });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!.Str("secret");
    }

    private static async Task<int> PendingTriedAsync(HttpClient client)
    {
        var page = await client.GetFromJsonAsync<JsonObject>("/v1/webhooks/deliveries?state=pending");
        return page!["items"]!.AsArray().Count(d => d!["attempts"]!.GetValue<int>() >= 1 && d["lastError"] is not null);
    }

    private static async Task<List<(ReceivedWebhook Received, JsonObject Json)>> WaitForEventsAsync(WebhookReceiver receiver, int distinct)
    {
        await WaitUntilAsync(() => Task.FromResult(receiver.Received.Select(r => r.EventId).Distinct().Count() >= distinct));
        return [.. receiver.Received.Select(r => (r, JsonNode.Parse(r.Body)!.AsObject()))];
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan? within = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < (within ?? Deadline), "The condition did not hold in time.");
            await Task.Delay(50);
        }
    }
}

public sealed class WebhookSignatureTests
{
    // The worked example of docs/WEBHOOKS.md.
    private const string Secret = "whsec_example";
    private const string Body = """{"id":"0192f0c1-0000-7000-8000-000000000000","type":"notification.delivered"}""";
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeSeconds(1767225600);

    [Fact]
    public void Sign_MatchesTheDocumentedExample()
    {
        var header = WebhookSignature.Sign(Secret, At, Encoding.UTF8.GetBytes(Body));

        Assert.Equal("t=1767225600,v1=" + DocumentedHmac, header);
        Assert.Equal("Herald-Signature", WebhookSignature.Header);
    }

    [Fact]
    public void Verify_TheDocumentedHeader_IsValid_AndOtherFormatsOfTheSameMacAreNot()
    {
        var body = Encoding.UTF8.GetBytes(Body);

        Assert.True(WebhookSignature.Verify(Secret, "t=1767225600,v1=" + DocumentedHmac, body, At, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify(Secret, "t=1767225600,v1=" + Convert.ToBase64String(Convert.FromHexString(DocumentedHmac)), body, At, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify(Secret, "t=1767225600,sha256=" + DocumentedHmac, body, At, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void Verify_RefusesTamperingWrongSecretAndOldTimestamps()
    {
        var body = Encoding.UTF8.GetBytes(Body);
        var header = WebhookSignature.Sign(Secret, At, body);

        Assert.True(WebhookSignature.Verify(Secret, header, body, At.AddMinutes(4), TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify(Secret, header, body, At.AddMinutes(6), TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify("whsec_other", header, body, At, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify(Secret, header, Encoding.UTF8.GetBytes(Body + " "), At, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify(Secret, "v1=" + header.Split("v1=")[1], body, At, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify(Secret, "garbage", body, At, TimeSpan.FromMinutes(5)));
    }

    [Theory]
    [InlineData("http://127.0.0.1/x", false)]
    [InlineData("https://10.1.2.3/x", false)]
    [InlineData("https://[::1]/x", false)]
    [InlineData("https://169.254.169.254/latest", false)]
    [InlineData("https://localhost/x", false)]
    [InlineData("https://bank.example/x", true)]
    public void UrlGuard_RefusesPlainHttpAndPrivateTargetsByDefault(string url, bool allowed)
    {
        var egress = new Herald.Channels.Egress.EgressGuard(
            Microsoft.Extensions.Options.Options.Create(new Herald.Channels.Egress.EgressOptions()), [],
            (host, ct) => System.Net.Dns.GetHostAddressesAsync(host, ct), Microsoft.Extensions.Logging.Abstractions.NullLogger<Herald.Channels.Egress.EgressGuard>.Instance);
        Assert.Equal(allowed, WebhookUrlGuard.Check(url, new WebhookOptions(), egress) is null);
    }

    /// <summary>HMAC-SHA256("whsec_example", "1767225600." + Body), computed independently with openssl (docs/WEBHOOKS.md).</summary>
    private const string DocumentedHmac = "634335e4f19e825407340a57f0f18bf2190b32b585d5d85407515812a06d263e";
}
