using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Herald.Testing;

/// <summary>
/// A throwaway Redis server on a random loopback port, without persistence, for tests. Set
/// <c>Herald_TEST_REDIS</c> to "host:port" of an existing server to use that one instead.
/// </summary>
/// <remarks>Like <see cref="PostgresServer"/>, a test project makes it an xunit fixture by deriving from it with
/// <c>IAsyncLifetime</c>. <see cref="StopAsync"/> and <see cref="StartAsync"/> may be called repeatedly: chaos tests
/// take Redis away and bring it back on the same port.</remarks>
public class RedisServer : IAsyncDisposable
{
    public const string EnvironmentVariable = "Herald_TEST_REDIS";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How often a first start moves to a new port when another process took the chosen one between
    /// <see cref="FreePort"/> and the server's bind.</summary>
    private const int PortAttempts = 5;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly StringBuilder _output = new();
    private Process? _process;
    private bool _external;

    /// <summary>"127.0.0.1:port", the shape <c>ConnectionStrings:Redis</c> takes.</summary>
    public string ConnectionString => $"{Host}:{Port}";

    public string Host { get; private set; } = "127.0.0.1";

    public int Port { get; private set; }

    public bool IsRunning => _external || _process is { HasExited: false };

    /// <summary>xunit <c>IAsyncLifetime</c> shape: starts the server.</summary>
    public ValueTask InitializeAsync() => StartAsync();

    /// <summary>Starts the server (idempotent), on the port of an earlier start if there was one.</summary>
    public async ValueTask StartAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (IsRunning)
            {
                return;
            }

            var external = Environment.GetEnvironmentVariable(EnvironmentVariable)
                ?? Environment.GetEnvironmentVariable(EnvironmentVariable.ToUpperInvariant());
            if (!string.IsNullOrWhiteSpace(external))
            {
                _external = true;
                var parts = external.Split(':');
                Host = parts[0];
                Port = parts.Length > 1 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : 6379;
                return;
            }

            // Only a fresh server may move to another port: after a stop, clients already hold its port.
            var fresh = Port == 0;
            for (var attempt = 1; ; attempt++)
            {
                if (fresh)
                {
                    Port = PickPort();
                }

                _process = StartProcess();
                try
                {
                    await WaitUntilAcceptingAsync(ct);
                    break;
                }
                catch (PortTakenException) when (fresh && attempt < PortAttempts)
                {
                    // The port was free when picked and taken before redis-server bound it: pick another.
                    await StopProcessAsync(ct);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Kills the server (like a crash: no shutdown); <see cref="StartAsync"/> brings it back on the same port.</summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            await StopProcessAsync(ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task StopProcessAsync(CancellationToken ct)
    {
        if (_process is null)
        {
            return;
        }

        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(ct);
        }

        _process.Dispose();
        _process = null;
    }

    private Process StartProcess()
    {
        var psi = new ProcessStartInfo
        {
            FileName = FindRedisServer(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
                     "--dir", Path.GetTempPath(),
                 })
        {
            psi.ArgumentList.Add(arg);
        }

        lock (_output)
        {
            _output.Clear();
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start redis-server.");
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;

        void Keep(string? line)
        {
            if (line is not null)
            {
                lock (_output)
                {
                    _output.AppendLine(line);
                }
            }
        }
    }

    /// <summary>Removes every key, so a test starts from an empty server.</summary>
    public Task FlushAllAsync(CancellationToken ct = default) => CommandAsync("FLUSHALL", ct);

    /// <summary>Sends one inline command and returns the first reply line (enough for PING, FLUSHALL and the like).</summary>
    public async Task<string> CommandAsync(string inlineCommand, CancellationToken ct = default)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(Host, Port, ct);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(inlineCommand + "\r\n"), ct);
        var buffer = new byte[512];
        var read = await stream.ReadAsync(buffer, ct);
        return Encoding.ASCII.GetString(buffer, 0, read).TrimEnd('\r', '\n');
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        GC.SuppressFinalize(this);
    }

    private async Task WaitUntilAcceptingAsync(CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        Exception? last = null;
        while (deadline.Elapsed < StartTimeout)
        {
            if (_process is { HasExited: true } exited)
            {
                string output;
                lock (_output)
                {
                    output = _output.ToString();
                }

                throw output.Contains("Address already in use", StringComparison.Ordinal)
                    ? new PortTakenException($"Port {Port} was taken before redis-server bound it.")
                    : new InvalidOperationException($"redis-server exited at start with code {exited.ExitCode}: {output}");
            }

            // Whatever holds the port may accept and never answer (it need not be a Redis): each probe is bounded.
            using var probe = CancellationTokenSource.CreateLinkedTokenSource(ct);
            probe.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                // The answer must come from this process: after a bind race another server may hold the port.
                if (await CommandAsync("PING", probe.Token) == "+PONG" && await ProcessIdAsync(probe.Token) == _process?.Id)
                {
                    return;
                }
            }
            catch (Exception e) when (e is SocketException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                last = e;
            }

            // Short backoff between polls; the deadline bounds the whole wait.
            await Task.Delay(TimeSpan.FromMilliseconds(20), ct);
        }

        throw new TimeoutException($"Redis did not accept connections within {StartTimeout}: {last?.Message}");
    }

    /// <summary>The <c>process_id</c> from <c>INFO server</c> of whatever answers on the port.</summary>
    private async Task<int?> ProcessIdAsync(CancellationToken ct)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(Host, Port, ct);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("INFO server\r\n"), ct);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (!text.ToString().Contains("process_id:", StringComparison.Ordinal) || !text.ToString().EndsWith("\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, ct);
            if (read == 0)
            {
                break;
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        var match = System.Text.RegularExpressions.Regex.Match(text.ToString(), @"process_id:(\d+)");
        return match.Success ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private static string FindRedisServer()
    {
        foreach (var candidate in new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"redis-server is not installed. Install the redis-server package or set {EnvironmentVariable}.");
    }

    /// <summary>The port a fresh server tries next: one that was free a moment ago (another process may take it before
    /// the server binds it, which the start handles by picking again). Tests of that handling override it.</summary>
    protected virtual int PickPort() => FreePort.Pick();


    private sealed class PortTakenException(string message) : Exception(message);
}
