using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Herald.Bench;

/// <summary>
/// Herald.Server (copied beside the bench by its project reference) running as its own process in the <c>api</c> role:
/// what a production api replica is, so its resident memory is Herald's alone.
/// </summary>
public sealed class ApiProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ApiProcess(Process process, string baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public int Pid => _process.Id;

    public static async Task<ApiProcess> StartAsync(string postgres, string secretsKey, CancellationToken ct)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var baseUrl = $"http://127.0.0.1:{port}";
        var info = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "Herald.Server.dll"), "api", "--urls", baseUrl },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["Herald__Storage"] = "postgres",
                ["ConnectionStrings__Postgres"] = postgres,
                ["Herald__Secrets__Key"] = secretsKey,
                ["Herald__Sandbox__Enabled"] = "false",
                ["Logging__LogLevel__Default"] = "Warning",
            },
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start Herald.Server.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine("[api process] " + e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var api = new ApiProcess(process, baseUrl);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"Herald.Server (api) exited with {process.ExitCode} at start.");
            }

            try
            {
                using var ready = await http.GetAsync(baseUrl + "/readyz", ct);
                if (ready.IsSuccessStatusCode)
                {
                    return api;
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
                await api.DisposeAsync();
                throw new TimeoutException("Herald.Server (api) was not ready within 60 s.");
            }

            await Task.Delay(200, ct);
        }
    }

    /// <summary>Resident memory now and its peak since the process started (VmHWM), in MB.</summary>
    public (double Rss, double Peak) Memory() => Report.RssMb(_process.Id);

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
