using System.Diagnostics;
using System.Net.Sockets;
using Npgsql;

namespace Herald.Testing;

/// <summary>
/// A throwaway PostgreSQL server on a random loopback port, in a temp directory, for tests. Set
/// <c>Herald_TEST_POSTGRES</c> to a connection string of an existing server to use that one instead.
/// </summary>
/// <remarks>
/// Herald.Testing does not reference xunit, so this class is not itself an xunit fixture. A test project makes it
/// one by deriving: <c>public sealed class PostgresFixture : PostgresServer, IAsyncLifetime;</c> (the inherited
/// <see cref="InitializeAsync"/> and <see cref="DisposeAsync"/> implement the interface) and
/// <c>[assembly: AssemblyFixture(typeof(PostgresFixture))]</c>.
/// </remarks>
public class PostgresServer : IAsyncDisposable
{
    public const string EnvironmentVariable = "Herald_TEST_POSTGRES";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How often a first start moves to a new port when another process took the chosen one between
    /// <see cref="FreePort"/> and the server's bind.</summary>
    private const int PortAttempts = 5;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly bool _allowExternal;
    private string? _root;
    private string? _binDir;
    private bool _external;
    private bool _running;

    /// <summary>A server that honours <see cref="EnvironmentVariable"/>.</summary>
    public PostgresServer()
        : this(allowExternal: true)
    {
    }

    /// <summary>With <paramref name="allowExternal"/> false, always a throwaway server of its own (for tests that stop
    /// and restart it, which an external server cannot).</summary>
    public PostgresServer(bool allowExternal) => _allowExternal = allowExternal;

    /// <summary>Connection string of the server's <c>postgres</c> database (superuser).</summary>
    public string ConnectionString { get; private set; } = "";

    public int Port { get; private set; }

    /// <summary>The data directory, or null when an external server is used.</summary>
    public string? DataDirectory => _root is null ? null : Path.Combine(_root, "data");

    /// <summary>xunit <c>IAsyncLifetime</c> shape: starts the server.</summary>
    public ValueTask InitializeAsync() => StartAsync();

    /// <summary>Starts the server (idempotent): initdb into a temp dir, then start and wait for connections.</summary>
    public async ValueTask StartAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_running || _external)
            {
                return;
            }

            var external = _allowExternal
                ? Environment.GetEnvironmentVariable(EnvironmentVariable) ?? Environment.GetEnvironmentVariable(EnvironmentVariable.ToUpperInvariant())
                : null;
            if (!string.IsNullOrWhiteSpace(external))
            {
                _external = true;
                ConnectionString = external;
                Port = new NpgsqlConnectionStringBuilder(external).Port;
                await WaitUntilAcceptingAsync(ownDataDirectory: null, ct);
                return;
            }

            _binDir ??= FindBinDirectory();
            var fresh = _root is null;
            if (fresh)
            {
                await InitDbAsync(ct);
            }

            // Only a fresh server may move: after a stop, clients already hold its port.
            await StartServerAsync(mayMovePort: fresh, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the server (fast shutdown) and starts it again on the same port and data directory.</summary>
    public async Task RestartAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_external)
            {
                throw new InvalidOperationException($"Cannot restart an external server ({EnvironmentVariable}).");
            }

            NpgsqlConnection.ClearAllPools();
            await PgCtlStopAsync("fast", ct);
            await StartServerAsync(mayMovePort: false, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the server (fast shutdown) and keeps its data directory and port: <see cref="StartAsync"/> brings
    /// it back. Chaos tests use the gap to see how clients are answered while the database is down.</summary>
    public async Task StopKeepingDataAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_external)
            {
                throw new InvalidOperationException($"Cannot stop an external server ({EnvironmentVariable}).");
            }

            NpgsqlConnection.ClearAllPools();
            await PgCtlStopAsync("fast", ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the server and deletes its directory.</summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_external || _root is null)
            {
                return;
            }

            NpgsqlConnection.ClearAllPools();
            await PgCtlStopAsync("immediate", ct);
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover temp dir is harmless.
            }

            _root = null;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Creates a fresh, empty database (dropping one of the same name) and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var quoted = "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        await using (var conn = new NpgsqlConnection(ConnectionString))
        {
            await conn.OpenAsync(ct);
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)", conn);
            await drop.ExecuteNonQueryAsync(ct);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted}", conn);
            await create.ExecuteNonQueryAsync(ct);
        }

        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString;
    }

    private async Task InitDbAsync(CancellationToken ct)
    {
        var root = Directory.CreateTempSubdirectory("herald-pg-").FullName;
        var data = Path.Combine(root, "data");
        if (IsRoot)
        {
            await RunAsync("chown", ["postgres:postgres", root], asPostgres: false, ct);
        }

        await RunAsync(
            Path.Combine(_binDir!, "initdb"),
            ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
            asPostgres: true,
            ct);

        // In postgresql.conf (not on the command line) so a restart keeps the same port and settings.
        var settings = $"""

            listen_addresses = '127.0.0.1'
            unix_socket_directories = '{root}'
            max_connections = 300
            fsync = off
            full_page_writes = off
            synchronous_commit = on
            shared_buffers = 128MB
            logging_collector = off
            """;
        // Appending (as root too) keeps the file's owner.
        await File.AppendAllTextAsync(Path.Combine(data, "postgresql.conf"), settings, ct);

        _root = root;
        await UsePortAsync(PickPort(), ct);
    }

    /// <summary>Sets the port in postgresql.conf (a later line wins) and in <see cref="ConnectionString"/>.</summary>
    private async Task UsePortAsync(int port, CancellationToken ct)
    {
        Port = port;
        await File.AppendAllTextAsync(Path.Combine(DataDirectory!, "postgresql.conf"), $"\nport = {port}\n", ct);
        ConnectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = "postgres",
            Database = "postgres",
            MaxPoolSize = 100,
            Timeout = 15,
        }.ConnectionString;
    }

    private async Task StartServerAsync(bool mayMovePort, CancellationToken ct)
    {
        var data = DataDirectory!;
        for (var attempt = 1; ; attempt++)
        {
            var log = Path.Combine(_root!, $"server-{attempt}.log");
            // pg_ctl without -w: readiness is checked below by connecting, with a deadline.
            await RunAsync(Path.Combine(_binDir!, "pg_ctl"), ["start", "-D", data, "-l", log, "-W"], asPostgres: true, ct);
            try
            {
                await WaitUntilAcceptingAsync(ownDataDirectory: data, ct, log);
                _running = true;
                return;
            }
            catch (PortTakenException) when (mayMovePort && attempt < PortAttempts)
            {
                // The port was free when picked and taken before the server bound it: pick another.
                await UsePortAsync(PickPort(), ct);
            }
            catch (Exception e) when (e is TimeoutException or PortTakenException)
            {
                var text = File.Exists(log) ? await File.ReadAllTextAsync(log, ct) : "(no log)";
                throw new TimeoutException($"{e.Message}\n{text}", e);
            }
        }
    }

    private async Task PgCtlStopAsync(string mode, CancellationToken ct)
    {
        if (!_running)
        {
            return;
        }

        await RunAsync(Path.Combine(_binDir!, "pg_ctl"), ["stop", "-D", DataDirectory!, "-m", mode, "-w", "-t", "60"], asPostgres: true, ct);
        _running = false;
    }

    /// <summary>Waits until the server answers. With <paramref name="ownDataDirectory"/>, the answering server must be
    /// this one (another process may hold the port after a bind race), and a bind failure in <paramref name="log"/>
    /// ends the wait at once.</summary>
    private async Task WaitUntilAcceptingAsync(string? ownDataDirectory, CancellationToken ct, string? log = null)
    {
        var deadline = Stopwatch.StartNew();
        Exception? last = null;
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false, Timeout = 2 };
        while (deadline.Elapsed < StartTimeout)
        {
            if (log is not null && File.Exists(log) && (await File.ReadAllTextAsync(log, ct)).Contains("Address already in use", StringComparison.Ordinal))
            {
                throw new PortTakenException($"Port {Port} was taken before PostgreSQL bound it.");
            }

            try
            {
                await using var conn = new NpgsqlConnection(builder.ConnectionString);
                await conn.OpenAsync(ct);
                await using var cmd = new NpgsqlCommand(ownDataDirectory is null ? "SELECT 1" : "SHOW data_directory", conn);
                var answer = await cmd.ExecuteScalarAsync(ct);
                if (ownDataDirectory is not null && !string.Equals(answer as string, ownDataDirectory, StringComparison.Ordinal))
                {
                    throw new PortTakenException($"Port {Port} is answered by another server ({answer}).");
                }

                return;
            }
            catch (Exception e) when (e is NpgsqlException or SocketException or IOException or TimeoutException)
            {
                last = e;
                // Short backoff between polls; the deadline bounds the whole wait.
                await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
            }
        }

        throw new TimeoutException($"PostgreSQL did not accept connections within {StartTimeout}: {last?.Message}");
    }

    private static bool IsRoot => Environment.UserName == "root" || GetUid() == 0;

    private static int GetUid()
    {
        try
        {
            // /proc/self/status has "Uid:\treal\teffective...".
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    return int.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return -1;
    }

    private static string FindBinDirectory()
    {
        const string root = "/usr/lib/postgresql";
        var candidates = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : -1))
                .Where(c => File.Exists(Path.Combine(c.Dir, "initdb")) && File.Exists(Path.Combine(c.Dir, "pg_ctl")))
                .OrderByDescending(c => c.Version)
                .ToList()
            : [];
        return candidates.Count > 0
            ? candidates[0].Dir
            : throw new InvalidOperationException(
                $"No PostgreSQL binaries under {root}/*/bin. Install the postgresql package or set {EnvironmentVariable}.");
    }

    /// <summary>The port a fresh server tries next: one that was free a moment ago (another process may take it before
    /// the server binds it, which the start handles by picking again). Tests of that handling override it.</summary>
    protected virtual int PickPort() => FreePort.Pick();


    private static async Task RunAsync(string file, IReadOnlyList<string> args, bool asPostgres, CancellationToken ct)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres && IsRoot)
        {
            // The server refuses to run as root.
            psi.FileName = "runuser";
            psi.ArgumentList.Add("-u");
            psi.ArgumentList.Add("postgres");
            psi.ArgumentList.Add("--");
            psi.ArgumentList.Add(file);
        }
        else
        {
            psi.FileName = file;
        }

        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {file}.");
        // pg_ctl start leaves the server holding inherited pipes, so read output without waiting for EOF.
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            string output;
            lock (stderr)
            {
                lock (stdout)
                {
                    output = stdout + "\n" + stderr;
                }
            }

            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {output}");
        }
    }

    private sealed class PortTakenException(string message) : Exception(message);
}
