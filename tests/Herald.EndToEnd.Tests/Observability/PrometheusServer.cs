using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.Testing;

namespace Herald.EndToEnd.Tests.Observability;

/// <summary>
/// Debian's <c>prometheus</c> binary on a random loopback port with a throwaway data folder, scraping what the
/// given configuration says (scripts/test.sh installs the package). Stopped and its folder removed on dispose.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private const int PortAttempts = 5;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "herald-prometheus-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly StringBuilder _output = new();
    private Process? _process;

    public HttpClient Api { get; private set; } = null!;

    /// <summary>The Debian package's binaries (prometheus, promtool).</summary>
    public static string Binary(string name) =>
        new[] { $"/usr/bin/{name}", $"/usr/local/bin/{name}" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{name} is not installed: install Debian's prometheus package (scripts/test.sh does).");

    /// <summary>Starts Prometheus with <paramref name="configYaml"/> written next to copies of <paramref name="files"/>.</summary>
    public static async Task<PrometheusServer> StartAsync(string configYaml, params string[] files)
    {
        var server = new PrometheusServer();
        Directory.CreateDirectory(server._folder);
        foreach (var file in files)
        {
            File.Copy(file, Path.Combine(server._folder, Path.GetFileName(file)));
        }

        await File.WriteAllTextAsync(Path.Combine(server._folder, "prometheus.yml"), configYaml);
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Pick();
            if (await server.TryStartAsync(port))
            {
                return server;
            }

            if (attempt == PortAttempts)
            {
                await server.DisposeAsync();
                throw new InvalidOperationException("prometheus did not start: " + server._output);
            }
        }
    }

    /// <summary>Runs a PromQL instant query; the result vector.</summary>
    public async Task<JsonArray> QueryAsync(string promql)
    {
        var answer = await Api.GetFromJsonAsync<JsonObject>("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        return answer!["data"]!["result"]!.AsArray();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
        Api?.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by the exiting process: the temp folder is cleaned by the OS later.
        }
    }

    private async Task<bool> TryStartAsync(int port)
    {
        var psi = new ProcessStartInfo(Binary("prometheus"))
        {
            WorkingDirectory = _folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            $"--config.file={Path.Combine(_folder, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(_folder, "data")}",
            $"--web.listen-address=127.0.0.1:{port}",
        })
        {
            psi.ArgumentList.Add(arg);
        }

        _process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start prometheus.");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Api?.Dispose();
        Api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < StartTimeout)
        {
            if (_process.HasExited)
            {
                return false;   // most likely the port was taken between FreePort and the bind: try another
            }

            try
            {
                using var ready = await Api.GetAsync("/-/ready");
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("prometheus did not get ready: " + _output);
    }

    private void Append(string? line)
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
