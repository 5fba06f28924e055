using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.Core.Notifications;
using Herald.Server.Hosting;
using Herald.Storage;
using Herald.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Herald.Bench;

/// <summary>
/// The system under test: a throwaway database (PostgreSQL server or SQLite folder) and a real Herald host
/// (role all, Kestrel on 127.0.0.1:0, sandbox with no latency and no rate limit) in this process.
/// </summary>
public sealed class BenchHost : IAsyncDisposable
{
    public const string AdminKey = "LXqs4ayL5OPXX6F0VPEq64Hpl8XcdyuYZWoHDT9A0QU=";

    private readonly PostgresServer? _postgres;
    private readonly string? _sqliteDirectory;
    private readonly string? _postgresDatabase;
    private WebApplication? _app;
    private OtlpSink? _sink;
    private SocketsHttpHandler? _handler;

    private BenchHost(PostgresServer? postgres, string? postgresDatabase, string? sqliteDirectory)
    {
        _postgres = postgres;
        _postgresDatabase = postgresDatabase;
        _sqliteDirectory = sqliteDirectory;
    }

    private readonly string _secretsKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public string BaseUrl { get; private set; } = "";

    public IServiceProvider Services => _app!.Services;

    public bool IsPostgres => _postgresDatabase is not null;

    /// <summary>The bench database's connection string (PostgreSQL runs only).</summary>
    public string? PostgresDatabase => _postgresDatabase;

    /// <summary>Per-notification cost snapshots (CPU, allocations, statements, WAL) around each workload.</summary>
    public CostMeter Cost => field ??= new CostMeter(_postgresDatabase, _postgres?.DataDirectory);

    /// <summary>Fires when the host stops, e.g. on Ctrl-C: the host's console lifetime takes SIGINT for itself.</summary>
    public CancellationToken Stopping => _app!.Lifetime.ApplicationStopping;

    /// <summary>Starts the database and returns the host (not yet booted: see <see cref="BootAsync"/>).</summary>
    public static async Task<BenchHost> StartStorageAsync(string storage, CancellationToken ct)
    {
        if (storage == "postgres")
        {
            var server = new PostgresServer();
            try
            {
                await server.StartAsync(ct);
                await EnableDurabilityAsync(server.ConnectionString, ct);
                var statementStats = server.DataDirectory is { } data && await CostMeter.EnableStatementStatsAsync(data, ct);
                if (statementStats)
                {
                    await server.RestartAsync(ct);
                }

                var database = await server.CreateDatabaseAsync("herald_bench", ct);
                if (statementStats)
                {
                    await CostMeter.CreateExtensionAsync(database, ct);
                }
                return new BenchHost(server, database, null);
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }

        return new BenchHost(null, null, Directory.CreateTempSubdirectory("herald-bench-sqlite-").FullName);
    }

    /// <summary>
    /// The test server runs with fsync and full_page_writes off (fast tests); SPEC §5 measures durable ingest,
    /// so the bench turns them back on (both take effect on reload).
    /// </summary>
    private static async Task EnableDurabilityAsync(string connectionString, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        foreach (var sql in new[] { "ALTER SYSTEM SET fsync = on", "ALTER SYSTEM SET full_page_writes = on", "SELECT pg_reload_conf()" })
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    public async Task<string?> DatabaseVersionAsync(CancellationToken ct)
    {
        if (!IsPostgres)
        {
            await using var sqlite = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=:memory:");
            await sqlite.OpenAsync(ct);
            return "SQLite " + sqlite.ServerVersion;
        }

        await using var conn = new NpgsqlConnection(_postgresDatabase);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(
            "SELECT version() || ' — fsync ' || current_setting('fsync') || ', full_page_writes ' || current_setting('full_page_writes')"
            + " || ', synchronous_commit ' || current_setting('synchronous_commit') || ', shared_buffers ' || current_setting('shared_buffers')",
            conn);
        return (string?)await cmd.ExecuteScalarAsync(ct);
    }

    /// <summary>Builds, migrates and starts the Herald host.</summary>
    /// <param name="tracing">Export traces with OTLP to <see cref="OtlpSink"/> (docs/OBSERVABILITY.md, Traces).</param>
    /// <param name="postgresExtra">Settings appended to Herald's connection string (not the bench's own probes').</param>
    public async Task BootAsync(bool tracing, string? postgresExtra, CancellationToken ct)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Herald:Storage"] = IsPostgres ? "postgres" : "sqlite",
            ["ConnectionStrings:Postgres"] = WithExtra(_postgresDatabase, postgresExtra),
            ["ConnectionStrings:Sqlite"] = _sqliteDirectory is null ? null : $"Data Source={Path.Combine(_sqliteDirectory, "herald.db")}",
            ["Herald:AdminKey"] = AdminKey,
            ["Herald:Secrets:Key"] = _secretsKey,
            ["Herald:Sandbox:Enabled"] = "true",
            ["Herald:Sandbox:LatencyMs"] = "0",
            ["Herald:Sandbox:RatePerSecond"] = "0",
            ["Herald:Sandbox:ReceiptDelayMs"] = "0",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (tracing)
        {
            _sink = await OtlpSink.StartAsync(ct);
            settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = _sink.Endpoint;
            settings["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        }

        _app = HeraldApp.Build(HeraldRole.All, ["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        await _app.Services.GetRequiredService<IStorageMigrator>().MigrateAsync(ct);
        await _app.StartAsync(ct);
        BaseUrl = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        _handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 512,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            UseCookies = false,
            UseProxy = false,
        };
    }

    private static string? WithExtra(string? connectionString, string? extra)
    {
        if (connectionString is null || string.IsNullOrWhiteSpace(extra))
        {
            return connectionString;
        }

        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        foreach (var (key, value) in new NpgsqlConnectionStringBuilder(extra))
        {
            builder[key] = value;
        }

        return builder.ConnectionString;
    }

    /// <summary>
    /// Starts Herald's own executable in the <c>api</c> role on this host's PostgreSQL database (its tenants and keys
    /// work there), so that a workload can measure one Herald process alone, without the load generator, the worker or
    /// the sandbox that share this process. Null for SQLite (one writer per database file).
    /// </summary>
    public async Task<ServerProcess?> StartApiProcessAsync(CancellationToken ct) =>
        IsPostgres ? await ServerProcess.StartHeraldAsync("api", _postgresDatabase!, _secretsKey, null, ct) : null;

    /// <summary>A second database on this host's PostgreSQL server, for Herald processes that must not share this
    /// host's queue (its worker would claim their work); null for SQLite.</summary>
    public async Task<string?> CreateDatabaseAsync(string name, CancellationToken ct)
    {
        if (_postgres is null)
        {
            return null;
        }

        return await _postgres.CreateDatabaseAsync(name, ct);
    }

    /// <summary>The node key ring's key this host runs with, for Herald processes started beside it.</summary>
    public string SecretsKey => _secretsKey;

    /// <summary>A client sharing one connection pool (loopback, HTTP/1.1).</summary>
    public HttpClient Client(string key, string? baseUrl = null)
    {
        var client = new HttpClient(_handler!, disposeHandler: false) { BaseAddress = new Uri(baseUrl ?? BaseUrl), Timeout = TimeSpan.FromMinutes(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Creates a tenant (with its sandbox provider accounts) and a key, over HTTP like a bank would.</summary>
    public async Task<(Guid TenantId, HttpClient Client)> CreateTenantAsync(string name, CancellationToken ct)
    {
        using var admin = Client(AdminKey);
        using var tenant = await admin.PostAsJsonAsync("/v1/admin/tenants", new { name }, ct);
        tenant.EnsureSuccessStatusCode();
        var tenantId = (await tenant.Content.ReadFromJsonAsync<JsonObject>(ct))!["id"]!.GetValue<Guid>();
        using var key = await admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { roles = new[] { "send", "read", "admin" } }, ct);
        key.EnsureSuccessStatusCode();
        var secret = (await key.Content.ReadFromJsonAsync<JsonObject>(ct))!["key"]!.GetValue<string>();
        return (tenantId, Client(secret));
    }

    /// <summary>Entries in the durable queue, all lanes (index = priority).</summary>
    public Task<long[]> QueueDepthAsync(CancellationToken ct) => Services.GetRequiredService<IDeliveryStore>().QueueDepthAsync(ct);

    /// <summary>Waits until the queue is empty or <paramref name="limit"/> passes; returns the time it took and the depth left.</summary>
    public async Task<(TimeSpan Elapsed, long Left)> DrainAsync(TimeSpan limit, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        long left;
        do
        {
            left = (await QueueDepthAsync(ct)).Sum();
            if (left == 0)
            {
                break;
            }

            await Task.Delay(100, ct);
        }
        while (clock.Elapsed < limit);

        return (clock.Elapsed, left);
    }

    /// <summary>Counts a tenant's notifications in <paramref name="status"/> through the store's search (keyset pages;
    /// the store caps a page at 500).</summary>
    public async Task<int> CountAsync(Guid tenantId, NotificationStatus status, CancellationToken ct)
    {
        var store = Services.GetRequiredService<INotificationStore>();
        var count = 0;
        Guid? before = null;
        while (true)
        {
            var page = await store.SearchAsync(tenantId, new NotificationQuery(Status: status, Before: before, Limit: 500), ct);
            if (page.Count == 0)
            {
                return count;
            }

            count += page.Count;
            before = page[^1].Id;
        }
    }

    /// <summary><c>pg_total_relation_size('queue')</c> in MB (table, indexes, TOAST), or null for SQLite.</summary>
    public async Task<double?> QueueTableMbAsync(CancellationToken ct)
    {
        if (!IsPostgres)
        {
            return null;
        }

        await using var conn = new NpgsqlConnection(_postgresDatabase);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT pg_total_relation_size('queue')", conn);
        return (long)(await cmd.ExecuteScalarAsync(ct))! / (1024.0 * 1024.0);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            try
            {
                await _app.StopAsync(CancellationToken.None);
            }
            catch (OperationCanceledException)
            {
                // Already stopping.
            }

            await _app.DisposeAsync();
        }

        if (_sink is not null)
        {
            Report.Info($"otlp sink: {_sink.Requests:N0} exports, {_sink.Bytes / 1024.0 / 1024.0:F1} MB of spans received");
            await _sink.DisposeAsync();
        }

        _handler?.Dispose();
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

        if (_sqliteDirectory is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_sqliteDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover temp folder is harmless.
            }
        }
    }
}
