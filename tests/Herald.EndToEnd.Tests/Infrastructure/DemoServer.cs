using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Herald.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The built server (src/Herald.Server's build output, run with <c>dotnet Herald.Server.dll</c>) as a user starts it:
/// its own process in a directory of its own, with no settings from the test process, started until its banner is
/// printed (or run until it exits, for starts that must fail).
/// </summary>
public sealed partial class DemoServer : IAsyncDisposable
{
    /// <summary>Bounds a hung start only: a first start (migrations, JIT) on a loaded 2-core machine has taken tens of seconds.</summary>
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(180);

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private DemoServer(Process process) => _process = process;

    /// <summary>Everything printed so far, stderr lines prefixed with <c>stderr: </c>.</summary>
    public string Banner => string.Join('\n', _lines);

    public string BaseUrl => ApiLine().Match(Banner).Groups[1].Value;

    public string Key => DemoKey().Match(Banner).Groups[1].Value;

    public static async Task<DemoServer> StartAsync(string directory, ITestOutputHelper output, IReadOnlyList<string> args)
    {
        var server = Launch(directory, args);
        var clock = Stopwatch.StartNew();
        // The banner's last line is the trace command.
        while (!server.Banner.Contains("/v1/notifications/<id>", StringComparison.Ordinal))
        {
            if (server._process.HasExited || clock.Elapsed > StartDeadline)
            {
                Assert.Fail($"The server did not print its banner (exited: {server._process.HasExited}):\n{server.Banner}");
            }

            await Task.Delay(100);
        }

        output.WriteLine($"Started and printed the banner after {clock.Elapsed.TotalSeconds:F1} s:\n{server.Banner}");
        return server;
    }

    /// <summary>Runs a start that is expected to end by itself; its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(string directory, IReadOnlyList<string> args)
    {
        await using var server = Launch(directory, args);
        using var timeout = new CancellationTokenSource(StartDeadline);
        await server._process.WaitForExitAsync(timeout.Token);
        // The asynchronous readers may still hold the last lines: an exited process's output ends with a null line.
        server._process.WaitForExit();
        return (server._process.ExitCode, server.Banner);
    }

    private static DemoServer Launch(string directory, IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo("dotnet", [ServerDll(), .. args])
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("Herald", StringComparison.OrdinalIgnoreCase) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToList())
        {
            // Only what a user has: no settings from the test process.
            info.Environment.Remove(name);
        }

        var server = new DemoServer(Process.Start(info)!);
        server._process.OutputDataReceived += (_, e) => { if (e.Data is not null) { server._lines.Enqueue(e.Data); } };
        server._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { server._lines.Enqueue("stderr: " + e.Data); } };
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        return server;
    }

    /// <summary>The server project's own build output, in the configuration and framework of this test build.</summary>
    private static string ServerDll()
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testBin.Name;
        var configuration = testBin.Parent!.Name;
        var root = testBin;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Herald.slnx")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var dll = Path.Combine(root.FullName, "src", "Herald.Server", "bin", configuration, framework, "Herald.Server.dll");
        Assert.True(File.Exists(dll), $"{dll} is not built");
        return dll;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"Demo key\s+(\S+)")]
    private static partial Regex DemoKey();

    [GeneratedRegex(@"API\s+(http://\S+)/v1/notifications")]
    private static partial Regex ApiLine();
}
