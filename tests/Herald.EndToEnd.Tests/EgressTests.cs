using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Channels.Egress;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.EndToEnd.Tests.Webhooks;
using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// A PostgreSQL host as an operator runs it: no egress allowance (the test hosts' loopback allowance is removed), the
/// in-process sandbox on. Names under <c>.rebind.test</c> resolve to loopback, as a tenant's DNS name re-pointed after
/// the save would (DNS rebinding); every other name goes to DNS.
/// </summary>
public sealed class EgressHostFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public const string RebindSuffix = ".rebind.test";

    public HeraldHost Host { get; private set; } = null!;

    /// <summary>A service inside the operator's network (here on loopback) that answers every request with data a
    /// tenant must never read.</summary>
    public InternalService Internal { get; } = new();

    public async ValueTask InitializeAsync()
    {
        await Internal.StartAsync();
        var settings = HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_egress_" + Guid.NewGuid().ToString("N")[..8]));
        settings.Remove(HeraldHost.EgressAllowSetting);
        settings["Herald:Webhooks:AllowInsecureUrls"] = "true";
        settings["Herald:Webhooks:RetryBaseDelay"] = "00:00:00.050";
        settings["Herald:Webhooks:RetryMaxDelay"] = "00:00:00.300";
        settings["Herald:Webhooks:PollInterval"] = "00:00:00.050";
        Host = await HeraldHost.StartAsync(HeraldRole.All, settings, configure: builder =>
            builder.Services.AddSingleton<EgressResolver>((host, ct) => host.EndsWith(RebindSuffix, StringComparison.OrdinalIgnoreCase)
                ? Task.FromResult<IPAddress[]>([IPAddress.Loopback])
                : Dns.GetHostAddressesAsync(host, ct)));
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Internal.DisposeAsync();
    }
}

/// <summary>An internal HTTP service: answers any path with a Graph-shaped error whose text is a secret.</summary>
public sealed class InternalService : IAsyncDisposable
{
    public const string Secret = "INTERNAL-SECRET-4711";

    private WebApplication? _app;
    private int _requests;

    public int Port { get; private set; }

    public int Requests => Volatile.Read(ref _requests);

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(async context =>
        {
            Interlocked.Increment(ref _requests);
            context.Response.StatusCode = 400;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(
                $$"""{"error":{"message":"{{Secret}} from {{context.Request.Path}}","code":100},"ok":false,"error_code":400,"description":"{{Secret}}","message":"{{Secret}}","code":21211}""");
        });
        await _app.StartAsync();
        Port = new Uri(_app.Urls.First()).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}

/// <summary>
/// Issue #13 item 2, at the level a tenant meets it: provider accounts and webhooks cannot point Herald at the
/// operator's network — refused on save in every spelling (problem+json located at the setting), and refused on
/// connect after DNS resolution (rebinding) — and what the far end says is never read back through the API.
/// </summary>
public sealed class EgressTests(EgressHostFixture fixture) : IClassFixture<EgressHostFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private HeraldHost Host => fixture.Host;

    private InternalService Internal => fixture.Internal;

    private static readonly string PrivateKey = CreatePrivateKey();

    private static string CreatePrivateKey()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportPkcs8PrivateKeyPem();
    }

    /// <summary>Every connector kind, every destination setting, in spellings the old check let through.</summary>
    public static TheoryData<string, string, string, string> InsideDestinations()
    {
        var port = "{port}";
        var fcm = new Dictionary<string, object?> { ["project_id"] = "p", ["client_email"] = "sa@p.iam.gserviceaccount.com", ["private_key"] = "{key}" };
        string Fcm(string field, string value) => JsonSerializer.Serialize(new Dictionary<string, object?>(fcm) { [field] = value });
        return new()
        {
            { "whatsapp", "whatsapp-cloud", $$"""{"baseUrl":"http://127.0.0.1:{{port}}","phoneNumberId":"1065","accessToken":"t"}""", "/settings/baseUrl" },
            { "whatsapp", "whatsapp-cloud", $$"""{"baseUrl":"http://2130706433:{{port}}","phoneNumberId":"1065","accessToken":"t"}""", "/settings/baseUrl" },
            // A '?' let the base URL choose the path on the provider's host.
            { "whatsapp", "whatsapp-cloud", """{"baseUrl":"https://graph.facebook.com/anything?","phoneNumberId":"1065","accessToken":"t"}""", "/settings/baseUrl" },
            { "telegram", "telegram-bot", $$"""{"baseUrl":"http://[::ffff:127.0.0.1]:{{port}}","botToken":"1:x"}""", "/settings/baseUrl" },
            { "telegram", "telegram-bot", $$"""{"baseUrl":"http://0x7f.1:{{port}}","botToken":"1:x"}""", "/settings/baseUrl" },
            { "sms", "twilio-sms", $$"""{"baseUrl":"http://localhost.:{{port}}","accountSid":"AC1","authToken":"x","from":"+15005550006"}""", "/settings/baseUrl" },
            { "sms", "twilio-sms", """{"baseUrl":"http://169.254.169.254","accountSid":"AC1","authToken":"x","from":"+15005550006"}""", "/settings/baseUrl" },
            { "push", "fcm", Fcm("baseUrl", "http://[64:ff9b::7f00:1]:" + port), "/settings/baseUrl" },
            { "push", "fcm", Fcm("token_uri", "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token"), "/settings/token_uri" },
            { "push", "fcm", Fcm("token_uri", "http://metadata.localhost/token"), "/settings/token_uri" },
            { "email", "smtp", $$"""{"host":"127.1","port":{{port}},"security":"none","fromAddress":"n@bank.example"}""", "/settings/host" },
            { "email", "smtp", """{"host":"100.64.0.1","port":25,"security":"none","fromAddress":"n@bank.example"}""", "/settings/host" },
            { "email", "smtp", """{"host":"10.0.0.25","port":25,"fromAddress":"n@bank.example"}""", "/settings/host" },
            { "sms", "smpp", $$"""{"host":"::1","port":{{port}},"systemId":"bank","sourceAddr":"BANK"}""", "/settings/host" },
            { "sms", "smpp", """{"host":"017700000001","port":2775,"systemId":"bank","sourceAddr":"BANK"}""", "/settings/host" },
            { "sms", "smpp", """{"host":"fd00::5","port":2775,"systemId":"bank","sourceAddr":"BANK"}""", "/settings/host" },
        };
    }

    [Theory]
    [MemberData(nameof(InsideDestinations))]
    public async Task ProviderAccount_PointingInside_IsRefusedOnSaveAtTheSetting(string channel, string kind, string settings, string pointer)
    {
        var (_, client) = await Host.CreateTenantAsync();
        var json = JsonNode.Parse(settings.Replace("{port}", Internal.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("\"{key}\"", JsonSerializer.Serialize(PrivateKey), StringComparison.Ordinal))!;

        using var create = await client.PostAsJsonAsync("/v1/providers", new { channel, kind, name = "inside", settings = json });

        var body = await create.Content.ReadAsStringAsync();
        Assert.True(create.StatusCode == HttpStatusCode.BadRequest, $"{(int)create.StatusCode}: {body}");
        Assert.Equal("application/problem+json", create.Content.Headers.ContentType?.MediaType);
        var errors = JsonNode.Parse(body)!["errors"]!.AsArray();
        Assert.Contains(errors, e => e.Str("pointer") == pointer);

        // An edit cannot smuggle it in either: a valid account, then the same settings as a patch.
        var providers = (await client.GetFromJsonAsync<JsonArray>("/v1/providers"))!;
        if (providers.FirstOrDefault(p => p.Str("kind") == kind) is { } existing)
        {
            using var patch = await client.PatchAsJsonAsync($"/v1/providers/{existing.Str("id")}", new { settings = json });
            Assert.Equal(HttpStatusCode.BadRequest, patch.StatusCode);
        }

        Assert.Equal(0, Internal.Requests);
    }

    /// <summary>The issue's reproduction: an account whose baseUrl points at a loopback service. It cannot be saved any
    /// more; one stored before the guard existed (written to the store directly) is refused when connecting, and the
    /// service's answer never shows in GET /v1/notifications/{id}.</summary>
    [Fact]
    public async Task StoredAccountPointingAtLoopback_IsRefusedOnConnect_AndTheAnswerIsNeverReadBack()
    {
        var (tenantId, client) = await Host.CreateTenantAsync();
        await DisableAsync(client, "whatsapp-cloud");
        await StoreAccountAsync(tenantId, Channel.WhatsApp, "whatsapp-cloud",
            $$"""{"baseUrl":"http://127.0.0.1:{{Internal.Port}}","phoneNumberId":"1065","accessToken":"t","serviceWindow":"off"}""");
        // serviceWindow off: a free-form send to a customer who never wrote would otherwise stop before connecting.
        var id = await client.SendAsync(new { type = "card.transaction", channels = new[] { "whatsapp" }, customer = new { phone = TestData.Phone() }, data = new { text = "Paid" } });

        var attempt = await WaitForAttemptAsync(client, id, EgressErrors.RefusedCode);
        Assert.DoesNotContain(InternalService.Secret, (await client.GetStringAsync($"/v1/notifications/{id}")), StringComparison.Ordinal);
        Assert.Contains("not a public address", attempt.Str("error"), StringComparison.Ordinal);
        Assert.Equal(0, Internal.Requests);

        using var create = await client.PostAsJsonAsync("/v1/providers", new
        {
            channel = "whatsapp", kind = "whatsapp-cloud", name = "graph",
            settings = new { baseUrl = $"http://127.0.0.1:{Internal.Port}/internal/admin?", phoneNumberId = "1065", accessToken = "t" },
        });
        Assert.Equal(HttpStatusCode.BadRequest, create.StatusCode);
    }

    /// <summary>Connect time, after DNS: a name that passes the save (it is a name) but resolves to loopback when
    /// Herald connects gets nowhere — for an HTTP provider and for an SMTP relay alike.</summary>
    [Theory]
    [InlineData("whatsapp", "whatsapp-cloud", """{"baseUrl":"http://graph{suffix}:{port}","phoneNumberId":"1065","accessToken":"t","serviceWindow":"off"}""")]
    [InlineData("telegram", "telegram-bot", """{"baseUrl":"http://bot{suffix}:{port}","botToken":"1:x"}""")]
    [InlineData("sms", "twilio-sms", """{"baseUrl":"http://twilio{suffix}:{port}","accountSid":"AC1","authToken":"x","from":"+15005550006"}""")]
    [InlineData("email", "smtp", """{"host":"relay{suffix}","port":{port},"security":"none","fromAddress":"n@bank.example"}""")]
    [InlineData("sms", "smpp", """{"host":"smsc{suffix}","port":{port},"systemId":"bank","sourceAddr":"BANK","reconnectMinSeconds":60}""")]
    public async Task NameResolvingInsideWhenConnecting_IsRefusedAfterResolution(string channel, string kind, string settings)
    {
        var (_, client) = await Host.CreateTenantAsync();
        await DisableChannelAsync(client, channel);
        var json = JsonNode.Parse(settings.Replace("{suffix}", EgressHostFixture.RebindSuffix, StringComparison.Ordinal)
            .Replace("{port}", Internal.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal))!;
        using (var create = await client.PostAsJsonAsync("/v1/providers", new { channel, kind, name = "rebinding", settings = json }))
        {
            Assert.True(create.StatusCode == HttpStatusCode.Created, await create.Content.ReadAsStringAsync());
        }

        var id = await client.SendAsync(new
        {
            type = "card.transaction", channels = new[] { channel },
            customer = new { phone = TestData.Phone(), email = "ana@customer.example", telegramChatId = "987654321" }, data = new { text = "Paid" },
        });

        await WaitForAttemptAsync(client, id, EgressErrors.RefusedCode);
        Assert.Equal(0, Internal.Requests);
    }

    /// <summary>The issue's port scanner: an SMTP host on a port that answers and one that does not. Both are refused
    /// on save with the same words, so nothing tells them apart.</summary>
    [Fact]
    public async Task SmtpHostAsPortScanner_IsRefusedOnSave_OpenAndClosedPortsAlike()
    {
        var (_, client) = await Host.CreateTenantAsync();
        int closedPort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var details = new List<string>();
        foreach (var port in new[] { Internal.Port, closedPort })
        {
            using var create = await client.PostAsJsonAsync("/v1/providers", new
            {
                channel = "email", kind = "smtp", name = "scan", settings = new { host = "127.0.0.1", port, security = "none", fromAddress = "n@bank.example" },
            });
            var body = await create.Content.ReadAsStringAsync();
            Assert.True(create.StatusCode == HttpStatusCode.BadRequest, body);
            details.Add(JsonNode.Parse(body)!["errors"]!.AsArray().Single(e => e.Str("pointer") == "/settings/host").Str("detail"));
        }

        Assert.Equal(details[0], details[1]);
    }

    /// <summary>Webhook URLs go through the same guard: the spellings the old webhook check missed.</summary>
    [Theory]
    [InlineData("http://localhost./hook")]
    [InlineData("http://events.localhost/hook")]
    [InlineData("http://[64:ff9b::7f00:1]/hook")]
    [InlineData("http://[::ffff:7f00:1]/hook")]
    [InlineData("http://[2002:7f00:1::]/hook")]
    [InlineData("http://198.18.0.1/hook")]
    [InlineData("http://192.0.2.1/hook")]
    [InlineData("http://0x7f.1/hook")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://10.0.0.1/hook")]
    public async Task WebhookUrl_PointingInside_IsRefusedOnSave(string url)
    {
        var (_, client) = await Host.CreateTenantAsync();

        using var create = await client.PostAsJsonAsync("/v1/webhooks", new { url });

        var body = await create.Content.ReadAsStringAsync();
        Assert.True(create.StatusCode == HttpStatusCode.BadRequest, body);
        Assert.Equal("/url", JsonNode.Parse(body)!["errors"]![0].Str("pointer"));
    }

    /// <summary>A webhook whose name resolves to loopback when Herald connects: nothing reaches the receiver, and the
    /// delivery says why in Herald's words.</summary>
    [Fact]
    public async Task WebhookNameResolvingInsideWhenConnecting_ReachesNothing()
    {
        await using var receiver = new WebhookReceiver();
        await receiver.StartAsync();
        var (_, client) = await Host.CreateTenantAsync();
        using (var create = await client.PostAsJsonAsync("/v1/webhooks", new { url = $"http://hook{EgressHostFixture.RebindSuffix}:{receiver.Port}/herald/events" }))
        {
            Assert.True(create.StatusCode == HttpStatusCode.Created, await create.Content.ReadAsStringAsync());
        }

        var id = await client.SendAsync(new { type = "card.transaction", customer = new { phone = TestData.Phone() }, data = new { text = "Paid" } });
        await client.WaitForStatusAsync(id, "delivered");

        var clock = Stopwatch.StartNew();
        JsonNode? delivery = null;
        while (clock.Elapsed < Deadline && delivery is null)
        {
            var page = (await client.GetFromJsonAsync<JsonObject>("/v1/webhooks/deliveries"))!;
            delivery = page["items"]?.AsArray().FirstOrDefault(d => d?["lastError"] is not null);
            if (delivery is null)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }
        }

        Assert.NotNull(delivery);
        Assert.Contains("not a public address", delivery.Str("lastError"), StringComparison.Ordinal);
        Assert.Empty(receiver.Received);
    }

    /// <summary>Without any allowance, the in-process sandbox still works: exactly its own listeners are allowed.</summary>
    [Fact]
    public async Task Sandbox_StillDelivers_ThroughItsExactAllowance()
    {
        var (_, client) = await Host.CreateTenantAsync();

        var id = await client.SendAsync(new { type = "card.transaction", channels = new[] { "whatsapp" }, customer = new { phone = TestData.Phone() }, data = new { text = "Paid" } });

        await client.WaitForStatusAsync(id, "delivered");
    }

    private async Task StoreAccountAsync(Guid tenantId, Channel channel, string kind, string settings)
    {
        var store = Host.Services.GetRequiredService<IProviderStore>();
        var now = TimeProvider.System.GetUtcNow();
        await store.CreateAsync(new ProviderAccount(Guid.CreateVersion7(now), tenantId, channel, kind, "stored before the guard", settings, 100, true, now), CancellationToken.None);
        // The store announces the new account itself: this node's routing table has it when CreateAsync returns.
    }

    private static async Task DisableAsync(HttpClient client, string kind)
    {
        var providers = (await client.GetFromJsonAsync<JsonArray>("/v1/providers"))!;
        foreach (var account in providers.Where(p => p.Str("kind") == kind))
        {
            using var patch = await client.PatchAsJsonAsync($"/v1/providers/{account.Str("id")}", new { enabled = false });
            patch.EnsureSuccessStatusCode();
        }
    }

    private static async Task DisableChannelAsync(HttpClient client, string channel)
    {
        var providers = (await client.GetFromJsonAsync<JsonArray>("/v1/providers"))!;
        foreach (var account in providers.Where(p => p.Str("channel") == channel))
        {
            using var patch = await client.PatchAsJsonAsync($"/v1/providers/{account.Str("id")}", new { enabled = false });
            patch.EnsureSuccessStatusCode();
        }
    }

    private static async Task<JsonNode> WaitForAttemptAsync(HttpClient client, Guid id, string errorCode)
    {
        var clock = Stopwatch.StartNew();
        JsonObject last;
        do
        {
            last = await client.GetNotificationAsync(id);
            if (last.Attempts().FirstOrDefault(a => a?["errorCode"]?.GetValue<string>() == errorCode) is { } attempt)
            {
                return attempt;
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        while (clock.Elapsed < Deadline);

        Assert.Fail($"Notification {id} has no attempt with {errorCode}: {last.ToJsonString()}");
        return null!;
    }
}

/// <summary>
/// Issue #13 item 5 (egress part): the embedded demo (SQLite, demo on) used to switch the webhook guard off entirely.
/// Its webhooks may reach a receiver on this machine (loopback, said at start), never private, link-local or
/// metadata ranges; and its provider accounts reach exactly its own sandbox, nothing else on loopback.
/// </summary>
public sealed class EmbeddedDemoEgressTests
{
    [Fact]
    public async Task Demo_AllowsLoopbackWebhooks_ButNeverPrivateLinkLocalOrMetadata_NorOtherLoopbackProviders()
    {
        using var folder = new TempFolder();
        var settings = HeraldHost.SqliteSettings(folder.Path);
        settings["Herald:Demo:Enabled"] = "true";
        settings["Herald:Sandbox:SmtpPort"] = "-1";   // the demo's fixed ports may be taken on a shared machine
        settings["Herald:Sandbox:SmppPort"] = "-1";
        settings.Remove(HeraldHost.EgressAllowSetting);
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);
        var (_, client) = await host.CreateTenantAsync();

        foreach (var url in new[] { "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/hook", "http://192.168.1.10/hook", "http://[fd00::1]/hook", "http://100.64.0.1/hook" })
        {
            using var refused = await client.PostAsJsonAsync("/v1/webhooks", new { url });
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{url}: {(int)refused.StatusCode}");
        }

        using (var local = await client.PostAsJsonAsync("/v1/webhooks", new { url = "http://127.0.0.1:9/herald/events" }))
        {
            Assert.Equal(HttpStatusCode.Created, local.StatusCode);
        }

        // Loopback for webhooks only: a provider account cannot point at another loopback service.
        using (var provider = await client.PostAsJsonAsync("/v1/providers", new
        {
            channel = "telegram", kind = "telegram-bot", name = "loopback", settings = new { baseUrl = "http://127.0.0.1:9", botToken = "1:x" },
        }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, provider.StatusCode);
        }

        // Its own sandbox is allowed exactly.
        var id = await client.SendAsync(new { type = "service.news", channels = new[] { "telegram" }, customer = new { telegramChatId = "80001" } });
        await client.WaitForStatusAsync(id, "delivered");
    }
}
