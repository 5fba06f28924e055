using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.EndToEnd.Tests.Infrastructure;

/// <summary>A real Herald host (Kestrel on a random loopback port, real storage, in-process sandbox).</summary>
public sealed class HeraldHost : IAsyncDisposable
{
    // Strong, as Herald requires at start (HeraldOptions.WeakAdminKey): 32 random bytes in base64.
    public const string AdminKey = "asg3nO/+OnTr4D2msoeOsoxIAdN80gxgi9YIboVYgwY=";

    /// <summary>The key of the sandbox's read and control endpoints (outside the embedded demo they need one).</summary>
    public const string SandboxControlKey = "test-sandbox-control-key-0123456789";

    /// <summary>The secrets key every test node shares (base64 of 32 bytes), as a cluster's nodes must.</summary>
    public const string SecretsKey = "dGVzdC1zZWNyZXRzLWtleS0wMTIzNDU2Nzg5YWJjZGU=";

    /// <summary>
    /// How long a WhatsApp step waits for its delivered receipt. The sandbox sends it 20 ms after the send, but the
    /// timeout races the whole receipt path (webhook, receipt processing, worker), and on a loaded 2-core machine
    /// that path can stall for seconds: a short timeout made tests that expect WhatsApp delivery, or cancel a
    /// notification in flight, fall back to the next channel now and then. Tests whose subject is the timeout wait
    /// for it explicitly.
    /// </summary>
    public static readonly TimeSpan WhatsAppReceiptTimeout = TimeSpan.FromSeconds(15);

    private readonly WebApplication _app;

    private HeraldHost(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
        Admin = Client(AdminKey);
    }

    public string BaseUrl { get; }

    /// <summary>A client with the bootstrap system key.</summary>
    public HttpClient Admin { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Settings every PostgreSQL test host shares: fast receipts and retries, so scenarios finish in seconds.</summary>
    public static Dictionary<string, string?> BaseSettings(string postgres) => Shared(new()
    {
        ["Herald:Storage"] = "postgres",
        ["ConnectionStrings:Postgres"] = postgres,
    });

    /// <summary>The same for the embedded SQLite backend, on a file in <paramref name="folder"/>.</summary>
    public static Dictionary<string, string?> SqliteSettings(string folder) => Shared(new()
    {
        ["Herald:Storage"] = "sqlite",
        ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(folder, "herald.db")}",
        ["Herald:Demo:Enabled"] = "false",
    });

    private static Dictionary<string, string?> Shared(Dictionary<string, string?> settings) => new(settings)
    {
        ["Herald:AdminKey"] = AdminKey,
        ["Herald:Secrets:Key"] = SecretsKey,
        // Asked for explicitly: outside the embedded demo the sandbox is off unless enabled, and its read and control
        // endpoints need a key (SandboxMessagesAsync and SandboxClient send it).
        ["Herald:Sandbox:Enabled"] = "true",
        ["Herald:Sandbox:ControlKey"] = SandboxControlKey,
        ["Herald:Sandbox:ReceiptDelayMs"] = "20",
        ["Herald:Routing:WhatsAppReceiptTimeout"] = WhatsAppReceiptTimeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        ["Herald:Worker:RetryBaseDelay"] = "00:00:00.050",
        ["Herald:Worker:RetryMaxDelay"] = "00:00:00.500",
        ["Herald:Worker:IdleWait"] = "00:00:00.200",
        // Longer than any send can take here (Herald:Channels:SendTimeout is 10 s): with 5 s, a send stalled by a loaded
        // machine outlived its claim, another worker loop claimed the notification again and it was sent twice.
        // CrashTests, whose subject is a lease running out, gives its doomed worker a short one.
        ["Herald:Worker:Lease"] = "00:00:30",
        // Tests' providers listen on loopback: fake providers, and in clusters the sandbox of another node (a node's own
        // sandbox needs no allowance). Allowed explicitly, as an operator allows an internal relay; EgressTests, whose
        // subject is the guard, remove it.
        [EgressAllowSetting] = "127.0.0.1",
        ["Logging:LogLevel:Default"] = "Warning",
        // Off by default outside the embedded demo; ApiContractTests and RateLimitClusterTests read them.
        ["Herald:Operations:ExposeMetrics"] = "true",
        ["Herald:Operations:ExposeOpenApi"] = "true",
    };

    /// <summary>The test hosts' egress allowance for loopback (see <see cref="Shared"/>).</summary>
    public const string EgressAllowSetting = "Herald:Egress:Allow:0";

    /// <param name="configure">Runs on the builder before Herald registers its services, e.g. to bring a clock
    /// (Herald keeps a <see cref="TimeProvider"/> registered here).</param>
    public static async Task<HeraldHost> StartAsync(
        HeraldRole role, IDictionary<string, string?> settings, string url = "http://127.0.0.1:0", Action<WebApplicationBuilder>? configure = null)
    {
        var app = HeraldApp.Build(role, ["--urls", url], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.ClearProviders();
            // HERALD_TEST_LOGS=Information (or any level) writes the nodes' logs to the console while debugging a test.
            if (Environment.GetEnvironmentVariable("HERALD_TEST_LOGS") is { Length: > 0 } level)
            {
                builder.Logging.AddSimpleConsole(o => o.TimestampFormat = "HH:mm:ss.fff ").SetMinimumLevel(Enum.Parse<LogLevel>(level));
                builder.Configuration["Logging:LogLevel:Default"] = level;
            }

            configure?.Invoke(builder);
        });
        await app.Services.GetRequiredService<Herald.Storage.IStorageMigrator>().MigrateAsync(CancellationToken.None);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new HeraldHost(app, address.TrimEnd('/'));
    }

    /// <summary>A client for the sandbox's read and control endpoints (<c>/sandbox/messages</c>, settings, outages).</summary>
    public HttpClient SandboxClient() => Client(SandboxControlKey);

    public HttpClient Client(string? key = null)
    {
        var client = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    /// <summary>Creates a tenant and returns a client holding a key with every tenant role.</summary>
    public async Task<(Guid TenantId, HttpClient Client)> CreateTenantAsync(string name = "Test Bank")
    {
        var tenant = await Admin.PostAsJsonAsync("/v1/admin/tenants", new { name });
        tenant.EnsureSuccessStatusCode();
        var tenantId = (await tenant.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        var key = await Admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles = new[] { "send", "read", "admin" } });
        key.EnsureSuccessStatusCode();
        var secret = (await key.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
        return (tenantId, Client(secret));
    }

    public async Task StopAsync() => await _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        try
        {
            await _app.StopAsync();
        }
        catch (OperationCanceledException)
        {
            // Already stopping.
        }

        await _app.DisposeAsync();
    }
}

/// <summary>Client-side helpers for the public API.</summary>
public static class ApiClientExtensions
{
    public static async Task<Guid> SendAsync(this HttpClient client, object notification, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications") { Content = JsonContent.Create(notification) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Accepted, $"Expected 202, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!["id"]!.GetValue<Guid>();
    }

    public static async Task<JsonObject> GetNotificationAsync(this HttpClient client, Guid id)
    {
        using var response = await client.GetAsync($"/v1/notifications/{id}");
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    /// <summary>Polls until the notification reaches <paramref name="status"/> (or any final state, which fails the test).</summary>
    public static async Task<JsonObject> WaitForStatusAsync(this HttpClient client, Guid id, string status, TimeSpan? within = null)
    {
        var limit = within ?? TimeSpan.FromSeconds(30);
        var clock = Stopwatch.StartNew();
        JsonObject last;
        do
        {
            last = await client.GetNotificationAsync(id);
            var current = last["status"]!.GetValue<string>();
            if (current == status)
            {
                return last;
            }

            if (current is "delivered" or "failed" or "expired" or "suppressed" or "cancelled")
            {
                Assert.Fail($"Notification {id} ended '{current}', expected '{status}': {last.ToJsonString()}");
            }

            await Task.Delay(50);
        }
        while (clock.Elapsed < limit);

        Assert.Fail($"Notification {id} did not reach '{status}' in time: {last.ToJsonString()}");
        return last;
    }

    public static async Task<JsonArray> SandboxMessagesAsync(this HttpClient client, string? channel = null, string? to = null)
    {
        var query = new List<string>();
        if (channel is not null)
        {
            query.Add("channel=" + Uri.EscapeDataString(channel));
        }

        if (to is not null)
        {
            query.Add("to=" + Uri.EscapeDataString(to));
        }

        // The sandbox's own key, whatever key the client carries (a tenant's key does not open the sandbox).
        using var request = new HttpRequestMessage(HttpMethod.Get, "/sandbox/messages" + (query.Count > 0 ? "?" + string.Join('&', query) : ""));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", HeraldHost.SandboxControlKey);
        using var response = await client.SendAsync(request);
        var json = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET /sandbox/messages: {(int)response.StatusCode} {json}");
        return JsonNode.Parse(json)!.AsArray();
    }

    public static JsonArray Attempts(this JsonObject notification) => notification["attempts"]!.AsArray();

    public static string Str(this JsonNode? node, string property) => node![property]!.GetValue<string>();
}
