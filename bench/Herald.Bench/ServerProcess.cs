using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Herald.Bench;

/// <summary>
/// One of Herald's executables (copied beside the bench by its project references) running as its own process: a
/// Herald.Server in the <c>api</c> or <c>worker</c> role, what a production replica is, or the provider sandbox alone.
/// Its memory and CPU are its own, apart from the load generator's.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, string name, string baseUrl)
    {
        _process = process;
        Name = name;
        BaseUrl = baseUrl;
    }

    public string Name { get; }

    public string BaseUrl { get; }

    public int Pid => _process.Id;

    /// <summary>Herald.Server in <paramref name="role"/> on <paramref name="postgres"/>; <paramref name="settings"/> as
    /// configuration keys (<c>Herald:Egress:Allow:0</c>), passed as environment variables.</summary>
    public static Task<ServerProcess> StartHeraldAsync(
        string role, string postgres, string secretsKey, IReadOnlyDictionary<string, string>? settings, CancellationToken ct)
    {
        var environment = new Dictionary<string, string>
        {
            ["Herald:Storage"] = "postgres",
            ["ConnectionStrings:Postgres"] = postgres,
            ["Herald:Secrets:Key"] = secretsKey,
            ["Herald:Sandbox:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        // The worker serves /metrics and /readyz on its own port, as deployed.
        return StartAsync("Herald.Server.dll", [role], role, environment, ct);
    }

    /// <summary>The provider sandbox alone (Herald.Sandbox), answering at once and without rate limits.</summary>
    public static Task<ServerProcess> StartSandboxAsync(CancellationToken ct) => StartAsync(
        "Herald.Sandbox.dll",
        [],
        "sandbox",
        new Dictionary<string, string>
        {
            ["Herald:Sandbox:LatencyMs"] = "0",
            ["Herald:Sandbox:RatePerSecond"] = "0",
            ["Herald:Sandbox:ReceiptDelayMs"] = "0",
            ["Logging:LogLevel:Default"] = "Warning",
        },
        ct);

    private static async Task<ServerProcess> StartAsync(
        string dll, string[] arguments, string name, IReadOnlyDictionary<string, string> settings, CancellationToken ct)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var baseUrl = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(baseUrl);
        foreach (var (key, value) in settings)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {dll}.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine($"[{name} process] {e.Data}");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var server = new ServerProcess(process, name, baseUrl);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        // Herald answers /readyz once its storage is reachable; the sandbox answers its root.
        var probePath = dll == "Herald.Server.dll" ? "/readyz" : "/";
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{dll} ({name}) exited with {process.ExitCode} at start.");
            }

            try
            {
                using var ready = await http.GetAsync(baseUrl + probePath, ct);
                if (ready.IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                // Slow start on a busy machine.
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                await server.DisposeAsync();
                throw new TimeoutException($"{dll} ({name}) was not ready within 60 s.");
            }

            await Task.Delay(200, ct);
        }
    }

    /// <summary>Resident memory now and its peak since the process started (VmHWM), in MB.</summary>
    public (double Rss, double Peak) Memory() => Report.RssMb(_process.Id);

    /// <summary>User + system CPU the process used so far.</summary>
    public TimeSpan Cpu()
    {
        try
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
        catch (InvalidOperationException)
        {
            return TimeSpan.Zero;   // exited
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        _process.Dispose();
    }
}
