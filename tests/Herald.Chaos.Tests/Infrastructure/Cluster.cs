using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Storage;
using Herald.Storage.Postgres;
using Herald.Storage.Secrets;
using Herald.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Herald.Chaos.Tests.Infrastructure;

/// <summary>
/// The whole production topology on loopback, from native processes: PostgreSQL, Redis, two api and two worker
/// Herald processes, two standalone sandbox processes acting as two providers of the Telegram channel, HAProxy and
/// nginx running the configs from deploy/ (only addresses, ports and paths filled in). All client traffic enters
/// through nginx over TLS.
/// </summary>
public sealed partial class Cluster : IAsyncLifetime
{
    public const string AdminKey = "5EcEGFRuJ0T8I/xQz6Frqza7MVKn6nwrc8fcj9Gl1sE=";

    /// <summary>The secrets key every node shares (base64 of 32 bytes), as in production.</summary>
    public const string SecretsKey = "Y2hhb3Mtc2VjcmV0cy1rZXktMDEyMzQ1Njc4OWFiY2Q=";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(120);

    private readonly string _root = Directory.CreateTempSubdirectory("herald-chaos-").FullName;
    private readonly List<ChildProcess> _processes = [];
    private X509Certificate2? _certificate;
    private ServiceProvider? _storage;

    public PostgresServer Postgres { get; } = new();

    public RedisServer Redis { get; } = new();

    public string ConnectionString { get; private set; } = "";

    public ChildProcess Api1 { get; private set; } = null!;
    public ChildProcess Api2 { get; private set; } = null!;
    public ChildProcess Worker1 { get; private set; } = null!;
    public ChildProcess Worker2 { get; private set; } = null!;
    public ChildProcess ProviderA { get; private set; } = null!;
    public ChildProcess ProviderB { get; private set; } = null!;
    public ChildProcess HAProxy { get; private set; } = null!;
    public ChildProcess Nginx { get; private set; } = null!;

    public IReadOnlyList<ChildProcess> ApiNodes => [Api1, Api2];
    public IReadOnlyList<ChildProcess> Workers => [Worker1, Worker2];
    public IReadOnlyList<ChildProcess> Herald => [Api1, Api2, Worker1, Worker2];

    /// <summary>Direct (not balanced) address of each Herald node and sandbox, for readiness probes.</summary>
    public Dictionary<ChildProcess, Uri> Direct { get; } = [];

    public Uri Edge { get; private set; } = null!;
    public Uri HAProxyStats { get; private set; } = null!;

    public Guid TenantId { get; private set; }

    /// <summary>The tenant's two Telegram provider accounts, one per sandbox process.</summary>
    public ProviderAccount AccountA { get; private set; } = null!;
    public ProviderAccount AccountB { get; private set; } = null!;

    /// <summary>A client of the edge (nginx, TLS) holding a key with every tenant role.</summary>
    public HttpClient Client { get; private set; } = null!;

    /// <summary>A plain loopback client for direct probes of single processes.</summary>
    public HttpClient Probe { get; } = new() { Timeout = TimeSpan.FromSeconds(5) };

    public ScenarioTable Table { get; } = new();

    public async ValueTask InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await StartAsync();
            Table.StartedIn = clock.Elapsed;
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"The HA cluster did not start: {e.Message}\n{Tails()}", e);
        }
    }

    private async Task StartAsync()
    {
        RequireBinary("haproxy", "/usr/sbin/haproxy");
        RequireBinary("nginx", "/usr/sbin/nginx");
        await Task.WhenAll(Postgres.StartAsync().AsTask(), Redis.StartAsync().AsTask());
        var database = await Postgres.CreateDatabaseAsync("herald_chaos");
        ConnectionString = new NpgsqlConnectionStringBuilder(database) { MaxPoolSize = 20, Timeout = 15, CommandTimeout = 30 }.ConnectionString;

        var run = Directory.CreateDirectory(Path.Combine(_root, "run")).FullName;
        var console = Directory.CreateDirectory(Path.Combine(_root, "console")).FullName;
        await File.WriteAllTextAsync(Path.Combine(console, "index.html"), "<!doctype html><title>Herald console</title><p>herald-console</p>");
        // The edge processes run as nobody: they need to read this tree and write their run directory.
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(run, (UnixFileMode)0b111_111_111);
        var (certFile, keyFile) = await WriteCertificateAsync();

        var ports = new Dictionary<string, int>();
        foreach (var name in new[] { "api1", "api2", "worker1", "worker2", "providerA", "providerB", "haproxy", "stats", "nginx" })
        {
            ports[name] = ChildProcess.FreePort();
        }

        await MigrateAsync();

        ProviderA = Sandbox("providerA", ports["providerA"]);
        ProviderB = Sandbox("providerB", ports["providerB"]);
        Api1 = HeraldNode("api1", "api", ports["api1"]);
        Api2 = HeraldNode("api2", "api", ports["api2"]);
        Worker1 = HeraldNode("worker1", "worker", ports["worker1"]);
        Worker2 = HeraldNode("worker2", "worker", ports["worker2"]);

        var haproxyEnv = new Dictionary<string, string>
        {
            ["HAPROXY_BIND"] = $"127.0.0.1:{ports["haproxy"]}",
            ["HAPROXY_STATS_BIND"] = $"127.0.0.1:{ports["stats"]}",
            ["HERALD_API_1"] = $"127.0.0.1:{ports["api1"]}",
            ["HERALD_API_2"] = $"127.0.0.1:{ports["api2"]}",
        };
        var haproxyConfig = Path.Combine(AppContext.BaseDirectory, "deploy", "haproxy", "haproxy.cfg");
        var (haFile, haArgs) = ChildProcess.Unprivileged("/usr/sbin/haproxy", ["-f", haproxyConfig, "-db"]);
        HAProxy = Track(new ChildProcess("haproxy", haFile, haArgs, haproxyEnv));
        HAProxyStats = new Uri($"http://127.0.0.1:{ports["stats"]}/;csv");

        var nginxConfig = Path.Combine(_root, "nginx.conf");
        await File.WriteAllTextAsync(nginxConfig, RenderTemplate(
            await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "deploy", "nginx", "nginx.conf.template")),
            new Dictionary<string, string>
            {
                ["NGINX_HTTPS_PORT"] = $"127.0.0.1:{ports["nginx"]}",
                ["NGINX_RUN_DIR"] = run,
                ["TLS_CERTIFICATE"] = certFile,
                ["TLS_CERTIFICATE_KEY"] = keyFile,
                ["CONSOLE_ROOT"] = console,
                ["HAPROXY_ADDRESS"] = $"127.0.0.1:{ports["haproxy"]}",
            }));
        var (ngFile, ngArgs) = ChildProcess.Unprivileged("/usr/sbin/nginx", ["-p", run, "-e", "stderr", "-c", nginxConfig, "-g", "daemon off;"]);
        Nginx = Track(new ChildProcess("nginx", ngFile, ngArgs, new Dictionary<string, string>()));
        Edge = new Uri($"https://localhost:{ports["nginx"]}");

        foreach (var process in _processes)
        {
            process.Start();
        }

        await WaitHealthyAsync();

        using var admin = EdgeClient(AdminKey);
        var tenant = await admin.PostAsJsonAsync("/v1/admin/tenants", new { name = "Chaos Bank" });
        tenant.EnsureSuccessStatusCode();
        TenantId = (await tenant.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        var key = await admin.PostAsJsonAsync($"/v1/admin/tenants/{TenantId}/keys", new { roles = new[] { "send", "read", "admin" } });
        key.EnsureSuccessStatusCode();
        Client = EdgeClient((await key.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>());

        // Two provider accounts of one channel, one per sandbox process. Written through the store contract because
        // the /v1/providers CRUD is being built in parallel (see docs/OPERATIONS.md).
        _storage = new ServiceCollection()
            .AddSingleton<ISecretProtector>(new AesGcmSecretProtector([Convert.FromBase64String(SecretsKey)]))
            .AddPostgresStorage(ConnectionString)
            .BuildServiceProvider();
        var providers = _storage.GetRequiredService<IProviderStore>();
        AccountA = await providers.CreateAsync(TelegramAccount("Sandbox Telegram A", Direct[ProviderA]), CancellationToken.None);
        AccountB = await providers.CreateAsync(TelegramAccount("Sandbox Telegram B", Direct[ProviderB]), CancellationToken.None);
        await _storage.GetRequiredService<TenantKeys>().ForWriteAsync(TenantId, CancellationToken.None);
    }

    /// <summary>Brings every process back, resets provider shaping, and waits until the edge serves through both api
    /// nodes: each scenario starts from a whole cluster whatever the previous one did.</summary>
    public async Task EnsureHealthyAsync()
    {
        await Redis.StartAsync();
        await Postgres.StartAsync();
        foreach (var process in _processes.Where(p => !p.IsRunning))
        {
            process.Start();
        }

        await WaitHealthyAsync();
        foreach (var provider in new[] { ProviderA, ProviderB })
        {
            using var reset = await Probe.PutAsJsonAsync(new Uri(Direct[provider], "/sandbox/settings"), new { latencyMs = 0, failureRate = 0.0 });
            reset.EnsureSuccessStatusCode();
        }

        // Every circuit closed, as an operator's reset does it: a circuit an earlier scenario opened stays held (or
        // half-open with no traffic to probe it) and would hide this scenario's own transitions (seen: the outage
        // scenario after the slow-provider one waited in vain for B's circuit to open).
        foreach (var account in new[] { AccountA, AccountB })
        {
            using var reset = await Client.PostAsync($"/v1/providers/{account.Id}/reset", null);
            reset.EnsureSuccessStatusCode();
        }

        // The reset reaches the workers through the change feed; give them a bounded moment to report it.
        var settle = Stopwatch.StartNew();
        while (settle.Elapsed < TimeSpan.FromSeconds(10) && !await CircuitsClosedAsync())
        {
            await Task.Delay(200);
        }
    }

    private async Task<bool> CircuitsClosedAsync()
    {
        foreach (var account in new[] { AccountA, AccountB })
        {
            var view = await Client.GetFromJsonAsync<JsonObject>($"/v1/providers/{account.Id}");
            if (view?["health"]?.GetValue<string>() != "closed")
            {
                return false;
            }
        }

        return true;
    }

    public async Task WaitHealthyAsync()
    {
        foreach (var node in ApiNodes)
        {
            await Eventually(() => IsOkAsync(new Uri(Direct[node], "/readyz")), $"{node.Name} /readyz to answer 200", node);
        }

        foreach (var node in Workers)
        {
            await Eventually(() => IsOkAsync(new Uri(Direct[node], "/readyz")), $"{node.Name} /readyz to answer 200", node);
        }

        foreach (var provider in new[] { ProviderA, ProviderB })
        {
            await Eventually(() => IsOkAsync(new Uri(Direct[provider], "/sandbox/settings")), $"{provider.Name} to answer", provider);
        }

        await Eventually(async () => (await BackendStatesAsync()).Values.All(s => s.StartsWith("UP", StringComparison.Ordinal)) , "HAProxy to see both api nodes UP", HAProxy);
        await Eventually(async () =>
        {
            using var edge = EdgeClient(null);
            return await IsOkAsync(edge, "/readyz");
        }, "nginx to answer /readyz through HAProxy", Nginx);
    }

    /// <summary>HAProxy's view of the api servers (its stats CSV): server name → status (UP, DOWN, "UP 1/2", ...).</summary>
    public async Task<Dictionary<string, string>> BackendStatesAsync()
    {
        var states = new Dictionary<string, string>();
        try
        {
            var csv = await Probe.GetStringAsync(HAProxyStats);
            foreach (var line in csv.Split('\n'))
            {
                var f = line.Split(',');
                if (f.Length > 17 && f[0] == "herald_api" && f[1] is not ("BACKEND" or "FRONTEND"))
                {
                    states[f[1]] = f[17];
                }
            }
        }
        catch (HttpRequestException)
        {
            // Not up yet.
        }

        return states;
    }

    /// <summary>A client of the edge that trusts exactly the test's self-signed certificate.</summary>
    public HttpClient EdgeClient(string? key, X509Certificate2? clientCertificate = null)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = 64,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = Trusted,
                // nginx asks every client for a certificate (optional, no CA list): present this one when given.
                LocalCertificateSelectionCallback = clientCertificate is null ? null : (_, _, _, _, _) => clientCertificate,
            },
        };
        var client = new HttpClient(handler) { BaseAddress = Edge, Timeout = TimeSpan.FromSeconds(30) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    /// <summary>Every notification of the tenant whose text starts with <paramref name="prefix"/>: text → status.</summary>
    public async Task<Dictionary<string, NotificationStatus>> StatusesAsync(string prefix)
    {
        var result = new Dictionary<string, NotificationStatus>();
        foreach (var (_, text, status) in await NotificationsAsync(prefix))
        {
            if (!result.TryAdd(text, status))
            {
                throw new InvalidOperationException($"Two notifications carry '{text}': an idempotency key did not hold.");
            }
        }

        return result;
    }

    /// <summary>Attempts closed with <paramref name="errorCode"/>: <c>worker_lost</c> (in flight on a killed worker),
    /// <c>timeout</c> (no answer in time: the provider may still have delivered).</summary>
    public async Task<int> AttemptsAsync(string prefix, string errorCode)
    {
        var ids = (await NotificationsAsync(prefix)).Select(n => n.Id).ToArray();
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM attempts a WHERE a.notification_id = ANY(@ids) AND a.error_code = @code", conn);
        cmd.Parameters.AddWithValue("code", errorCode);
        cmd.Parameters.AddWithValue("ids", ids);
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Attempts of a load, counted by provider account name, state and error code (for failure messages).</summary>
    public async Task<string> AttemptBreakdownAsync(string prefix)
    {
        var ids = (await NotificationsAsync(prefix)).Select(n => n.Id).ToArray();
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            """
            SELECT coalesce(a.provider_name, '-') || ' state ' || a.state || ' ' || coalesce(a.error_code, 'ok') || ': ' || count(*)
            FROM attempts a WHERE a.notification_id = ANY(@ids)
            GROUP BY a.provider_name, a.state, a.error_code ORDER BY 1
            """, conn);
        cmd.Parameters.AddWithValue("ids", ids);
        var lines = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }

        return string.Join("; ", lines);
    }

    /// <summary>The tenant's notifications whose text starts with <paramref name="prefix"/>, read from the database as
    /// an auditor would: the text is inside the row's envelope (encryption at rest), opened with the cluster's key.</summary>
    private async Task<List<(Guid Id, string Text, NotificationStatus Status)>> NotificationsAsync(string prefix)
    {
        // Loaded once at start-up (Open reads the database again only for a key version it has not seen): a poll
        // while PostgreSQL restarts must not depend on the harness's own pooled connections.
        var keys = _storage!.GetRequiredService<TenantKeys>();
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT id, status, sealed, data::text FROM notifications WHERE tenant_id = @t", conn);
        cmd.Parameters.AddWithValue("t", TenantId);
        var found = new List<(Guid, string, NotificationStatus)>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var id = reader.GetGuid(0);
            var data = reader.IsDBNull(2) ? reader.GetString(3) : NotificationSeal.Open(keys, TenantId, id, reader.GetFieldValue<byte[]>(2)).DataJson;
            if (JsonNode.Parse(data)?["text"]?.GetValue<string>() is { } text && text.StartsWith(prefix, StringComparison.Ordinal))
            {
                found.Add((id, text, (NotificationStatus)reader.GetInt16(1)));
            }
        }

        return found;
    }

    /// <summary>What one sandbox provider received for texts starting with <paramref name="prefix"/>: text → times.</summary>
    public async Task<Dictionary<string, int>> ReceivedAsync(ChildProcess provider, string prefix)
    {
        var json = await Probe.GetStringAsync(new Uri(Direct[provider], "/sandbox/messages?channel=telegram"));
        var counts = new Dictionary<string, int>();
        foreach (var message in JsonNode.Parse(json)!.AsArray())
        {
            if (message?["text"]?.GetValue<string>() is { } text && text.StartsWith(prefix, StringComparison.Ordinal))
            {
                counts[text] = counts.GetValueOrDefault(text) + 1;
            }
        }

        return counts;
    }

    public static async Task Eventually(Func<Task<bool>> probe, string what, ChildProcess? show = null, TimeSpan? within = null)
    {
        var limit = within ?? StartDeadline;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (await probe())
            {
                return;
            }

            if (show is { IsRunning: false, ExitCode: not null })
            {
                throw new InvalidOperationException($"{show.Name} exited ({show.ExitCode}) while waiting for {what}.\n{show.Tail()}");
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Timed out after {limit} waiting for {what}.\n{show?.Tail() ?? ""}");
    }

    public async Task<bool> IsOkAsync(Uri uri)
    {
        try
        {
            using var response = await Probe.GetAsync(uri);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private static async Task<bool> IsOkAsync(HttpClient client, string path)
    {
        try
        {
            using var response = await client.GetAsync(path);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public string Tails() => string.Join("\n", _processes.Select(p => p.Tail(30)));

    public async ValueTask DisposeAsync()
    {
        Table.Print();
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        Client?.Dispose();
        Probe.Dispose();
        if (_storage is not null)
        {
            await _storage.DisposeAsync();
        }

        await Redis.DisposeAsync();
        await Postgres.StopAsync();
        _certificate?.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A file held by a process still closing; the temp cleaner takes it.
        }
    }

    /// <summary>
    /// Renders a template the way the official nginx image does (envsubst over the variables that are defined), and
    /// refuses to run a config with a placeholder left over.
    /// </summary>
    public static string RenderTemplate(string template, IReadOnlyDictionary<string, string> variables)
    {
        var rendered = Placeholder().Replace(template, m => variables.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);
        var left = Placeholder().Matches(rendered).Select(m => m.Value).Distinct().ToList();
        return left.Count == 0 ? rendered : throw new InvalidOperationException($"Unrendered placeholders: {string.Join(", ", left)}");
    }

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex Placeholder();

    private ChildProcess Track(ChildProcess process)
    {
        _processes.Add(process);
        return process;
    }

    private ChildProcess HeraldNode(string name, string role, int port)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Herald.Server.dll");
        var process = Track(new ChildProcess(name, "dotnet", [dll, role, "--urls", $"http://127.0.0.1:{port}"], HeraldEnvironment()));
        Direct[process] = new Uri($"http://127.0.0.1:{port}");
        return process;
    }

    private ChildProcess Sandbox(string name, int port)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Herald.Sandbox.dll");
        var process = Track(new ChildProcess(name, "dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"], new Dictionary<string, string>
        {
            ["Herald__Sandbox__SmtpPort"] = "-1",
        // HAProxy is the peer the api nodes see; it passes on the client-certificate header nginx set.
        ["Herald__Sources__TrustedProxies__0"] = "127.0.0.0/8",
            ["Logging__LogLevel__Default"] = "Warning",
            ["DOTNET_gcServer"] = "0",
        }));
        Direct[process] = new Uri($"http://127.0.0.1:{port}");
        return process;
    }

    /// <summary>Configuration through the environment, as in the containers; short timers so scenarios take seconds.</summary>
    private Dictionary<string, string> HeraldEnvironment() => new()
    {
        ["Herald__Storage"] = "postgres",
        ["ConnectionStrings__Postgres"] = ConnectionString,
        ["ConnectionStrings__Redis"] = Redis.ConnectionString,
        ["Herald__AdminKey"] = AdminKey,
        ["Herald__Secrets__Key"] = SecretsKey,
        ["Herald__Sandbox__Enabled"] = "false",
        ["Herald__Sandbox__SmtpPort"] = "-1",
        // HAProxy is the peer the api nodes see; it passes on the client-certificate header nginx set.
        ["Herald__Sources__TrustedProxies__0"] = "127.0.0.0/8",
        // The providers are the standalone sandbox processes on loopback ports: allowed explicitly, as an operator
        // allows an internal relay (the egress guard refuses loopback otherwise).
        ["Herald__Egress__Allow__0"] = "127.0.0.1",
        ["Herald__MigrateOnStart"] = "false",
        ["Herald__DrainDelay"] = "00:00:06",
        ["Herald__Worker__ClaimBatch"] = "20",
        ["Herald__Worker__Loops"] = "2",
        ["Herald__Worker__Lease"] = "00:00:05",
        ["Herald__Worker__IdleWait"] = "00:00:00.200",
        ["Herald__Worker__RetryBaseDelay"] = "00:00:00.050",
        ["Herald__Worker__RetryMaxDelay"] = "00:00:00.500",
        ["Herald__Worker__OutageRecheck"] = "00:00:00.500",
        ["Herald__Worker__MaxAttemptsPerStep"] = "20",
        ["Herald__Channels__SendTimeout"] = "00:00:03",
        ["Herald__Channels__HttpTimeout"] = "00:00:04",
        ["Herald__Channels__ConnectTimeout"] = "00:00:00.500",
        ["Herald__Channels__CircuitMinimumThroughput"] = "5",
        ["Herald__Channels__CircuitConsecutiveFailures"] = "5",
        // Polly opens a circuit only after CircuitMinimumThroughput sends in the window. A worker gets about half the
        // load and tries the dead provider first on half of it, so on a starved machine 5 s held fewer than 5 of its
        // tries and the circuit never opened (traffic still failed over): 10 s leaves room for a slow run.
        ["Herald__Channels__CircuitSamplingDuration"] = "00:00:10",
        ["Herald__Channels__CircuitBreakDuration"] = "00:00:02",
        ["Herald__Channels__ProviderRefreshInterval"] = "00:00:00.500",
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__LogLevel__Herald.Channels.Providers.ChannelDispatcher"] = "Information",
        ["Logging__LogLevel__Herald.Server.Operations"] = "Information",
        ["Logging__Console__FormatterName"] = "simple",
        ["Logging__Console__FormatterOptions__SingleLine"] = "true",
        ["DOTNET_gcServer"] = "0",
    };

    private async Task MigrateAsync()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Herald.Server.dll");
        await using var migrate = new ChildProcess("migrate", "dotnet", [dll, "migrate"], HeraldEnvironment());
        migrate.Start();
        var code = await migrate.WaitForExitAsync(StartDeadline);
        if (code != 0)
        {
            throw new InvalidOperationException($"herald migrate exited with {code}.\n{migrate.Tail()}");
        }
    }

    private ProviderAccount TelegramAccount(string name, Uri baseUrl)
    {
        var settings = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["baseUrl"] = baseUrl.AbsoluteUri.TrimEnd('/') + "/sandbox/telegram",
            ["botToken"] = RandomNumberGenerator.GetInt32(100_000_000, int.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture)
                + ":" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            ["webhookSecret"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
        });
        var now = TimeProvider.System.GetUtcNow();
        return new ProviderAccount(Guid.CreateVersion7(now), TenantId, Channel.Telegram, "telegram-bot", name, settings, 100, true, now);
    }

    private async Task<(string Cert, string Key)> WriteCertificateAsync()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = TimeProvider.System.GetUtcNow();
        using var created = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(7));
        _certificate = X509CertificateLoader.LoadCertificate(created.RawData);
        var cert = Path.Combine(_root, "tls.crt");
        var key = Path.Combine(_root, "tls.key");
        await File.WriteAllTextAsync(cert, created.ExportCertificatePem());
        await File.WriteAllTextAsync(key, rsa.ExportPkcs8PrivateKeyPem());
        // Readable by the unprivileged nginx of this test; a real key is readable by its server only.
        File.SetUnixFileMode(key, (UnixFileMode)0b110_100_100);
        return (cert, key);
    }

    /// <summary>Trusts the test's own certificate as the only root, and checks the host name like any client.</summary>
    private bool Trusted(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || _certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(_certificate);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return custom.Build(presented);
    }

    private static void RequireBinary(string name, string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"{name} is not installed ({path}). The HA test runs Debian's {name} package: apt-get install {name} (scripts/test.sh does).");
        }
    }
}
