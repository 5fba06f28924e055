using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Herald.Chaos.Tests.Infrastructure;

/// <summary>
/// One process of the cluster (a Herald node, a sandbox provider, HAProxy, nginx). Keeps every line of its output
/// so a failure can show the last ones and scenarios can count log lines since a point; can be killed (SIGKILL),
/// asked to stop (SIGTERM) and started again with the same command line.
/// </summary>
/// <remarks>
/// Every line, not a rolling window: a count over the last N lines goes down when older matches fall out, so
/// "more than before" missed a circuit that opened while a chatty earlier scenario (a PostgreSQL restart logs stack
/// traces) kept the window churning. A run of the suite is tens of thousands of lines, a few MB.
/// </remarks>
public sealed class ChildProcess : IAsyncDisposable
{
    // Ports this process handed out, never twice (two clusters of one run must not share one).
    private static readonly HashSet<int> Taken = [];

    private readonly List<string> _lines = [];
    private readonly Lock _gate = new();
    private readonly string _file;
    private readonly IReadOnlyList<string> _args;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private Process? _process;

    public ChildProcess(string name, string file, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment)
    {
        Name = name;
        _file = file;
        _args = args;
        _environment = environment;
    }

    public string Name { get; }

    public bool IsRunning => _process is { HasExited: false };

    public int? ExitCode => _process is { HasExited: true } p ? p.ExitCode : null;

    public int Pid => _process?.Id ?? 0;

    /// <summary>Runs as an unprivileged user (nobody) when the tests run as root, like the containers do.</summary>
    public static (string File, IReadOnlyList<string> Args) Unprivileged(string file, IReadOnlyList<string> args) =>
        Environment.UserName == "root"
            ? ("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", file, .. args])
            : (file, args);

    public void Start()
    {
        if (IsRunning)
        {
            return;
        }

        var info = new ProcessStartInfo(_file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var arg in _args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in _environment)
        {
            info.Environment[key] = value;
        }

        _process?.Dispose();
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {Name} ({_file}).");
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Keep($"--- {Name} started (pid {process.Id})");
    }

    /// <summary>kill -9: no shutdown, no drain, nothing flushed.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            Keep($"--- {Name} killed");
        }
    }

    /// <summary>kill -TERM: what Docker and Swarm send on stop and on a rolling update.</summary>
    public async Task TerminateAsync()
    {
        if (_process is { HasExited: false } p)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
            await kill.WaitForExitAsync();
            Keep($"--- {Name} sent SIGTERM");
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        var process = _process ?? throw new InvalidOperationException($"{Name} never started.");
        using var cts = new CancellationTokenSource(within);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {within}.\n{Tail()}");
        }

        return process.ExitCode;
    }

    /// <summary>Whether any kept output line contains <paramref name="text"/>.</summary>
    public bool Logged(string text)
    {
        lock (_gate)
        {
            return _lines.Any(l => l.Contains(text, StringComparison.Ordinal));
        }
    }

    /// <summary>How many output lines since the first start contain <paramref name="text"/> (never decreases).</summary>
    public int CountLogged(string text)
    {
        lock (_gate)
        {
            return _lines.Count(l => l.Contains(text, StringComparison.Ordinal));
        }
    }

    /// <summary>Threads and open file descriptors of the live process (from /proc), for resource bounds.</summary>
    public (int Threads, int FileDescriptors) Resources()
    {
        if (_process is not { HasExited: false } p)
        {
            return (0, 0);
        }

        try
        {
            var threads = File.ReadLines($"/proc/{p.Id}/status").First(l => l.StartsWith("Threads:", StringComparison.Ordinal));
            var fds = Directory.GetFileSystemEntries($"/proc/{p.Id}/fd").Length;
            return (int.Parse(threads["Threads:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture), fds);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return (0, 0);
        }
    }

    public string Tail(int lines = 60)
    {
        lock (_gate)
        {
            return $"[{Name} output, last {lines} lines]\n" + string.Join('\n', _lines.Skip(Math.Max(0, _lines.Count - lines)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _lines.Add(line);
        }
    }

    /// <summary>
    /// A free loopback port below the kernel's ephemeral range. The cluster's processes keep their ports for its whole
    /// life (HAProxy and nginx name them, and a killed process restarts on its own), so a port cannot be held by the
    /// test; instead it comes from where nothing is handed out automatically: every bind to port 0 and every outgoing
    /// connection (the other suites' servers, clients, PostgreSQL and Redis) takes its port from the ephemeral range, so
    /// nothing but this cluster can take one of these between the check and the bind.
    /// </summary>
    public static int FreePort()
    {
        var ephemeralLow = 32_768;
        if (File.Exists("/proc/sys/net/ipv4/ip_local_port_range")
            && int.TryParse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var low))
        {
            ephemeralLow = low;
        }

        for (var tries = 0; tries < 200; tries++)
        {
            var port = Random.Shared.Next(20_000, Math.Max(20_001, ephemeralLow));
            lock (Taken)
            {
                if (!Taken.Add(port))
                {
                    continue;
                }
            }

            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // In use by something else: another try.
            }
        }

        throw new InvalidOperationException("No free loopback port below the ephemeral range.");
    }
}
