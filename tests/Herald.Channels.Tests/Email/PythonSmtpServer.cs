using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace Herald.Channels.Tests.Email;

/// <summary>
/// A real SMTP server not written here: Python's standard-library <c>smtpd.SMTPServer</c> (Python ≤ 3.11), started
/// on a free port it picks itself. Each message is written as an .eml file into a temporary directory. Recipients ending
/// <c>@reject.test</c> get <c>550 5.7.1</c> and <c>@defer.test</c> <c>451 4.3.0</c> at the end of DATA.
/// </summary>
public sealed class PythonSmtpServer : IAsyncDisposable
{
    private const string Script = """
        import asyncore, os, smtpd, sys, warnings
        warnings.simplefilter("ignore")
        out = sys.argv[1]

        class Server(smtpd.SMTPServer):
            count = 0
            def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
                if any(r.endswith("@reject.test") for r in rcpttos):
                    return "550 5.7.1 Message rejected by policy"
                if any(r.endswith("@defer.test") for r in rcpttos):
                    return "451 4.3.0 Try again later"
                Server.count += 1
                path = os.path.join(out, "%05d" % Server.count)
                with open(path + ".tmp", "wb") as f:
                    f.write(("X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (mailfrom, ",".join(rcpttos))).encode())
                    f.write(data)
                os.rename(path + ".tmp", path + ".eml")
                return None

        server = Server(("127.0.0.1", 0), None, decode_data=False)
        print("PORT %d" % server.socket.getsockname()[1], flush=True)
        asyncore.loop(timeout=0.2)
        """;

    private readonly Process _process;

    private PythonSmtpServer(Process process, int port, string directory)
    {
        _process = process;
        Port = port;
        Directory = directory;
    }

    public int Port { get; }

    /// <summary>Where received messages land as <c>NNNNN.eml</c>.</summary>
    public string Directory { get; }

    /// <summary>Starts the server, or returns null with the reason when python3 or its smtpd module is missing.</summary>
    public static async Task<(PythonSmtpServer? Server, string? Missing)> TryStartAsync(CancellationToken ct)
    {
        var directory = Path.Combine(Path.GetTempPath(), "herald-smtpd-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var script = Path.Combine(directory, "server.py");
        await File.WriteAllTextAsync(script, Script, ct);

        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-W");
        start.ArgumentList.Add("ignore");
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(directory);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception("python3 did not start");
        }
        catch (Win32Exception e)
        {
            return (null, $"python3 is not available: {e.Message}");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // Bounds a hung start only: a python3 start on a loaded 2-core machine has taken longer than 20 s.
        deadline.CancelAfter(TimeSpan.FromSeconds(90));
        var line = await process.StandardOutput.ReadLineAsync(deadline.Token);
        if (line is null || !line.StartsWith("PORT ", StringComparison.Ordinal))
        {
            var error = await process.StandardError.ReadToEndAsync(deadline.Token);
            process.Kill(entireProcessTree: true);
            process.Dispose();
            return (null, error.Contains("No module named 'smtpd'", StringComparison.Ordinal) || error.Contains("No module named 'asyncore'", StringComparison.Ordinal)
                ? "python3 has no smtpd module (removed in Python 3.12)"
                : $"python smtpd server did not start: {error}");
        }

        return (new PythonSmtpServer(process, int.Parse(line.AsSpan(5), CultureInfo.InvariantCulture), directory), null);
    }

    /// <summary>Forgets the messages received so far.</summary>
    public void Clear()
    {
        foreach (var file in System.IO.Directory.GetFiles(Directory, "*.eml"))
        {
            File.Delete(file);
        }
    }

    /// <summary>Waits until <paramref name="count"/> messages arrived; returns their raw bytes in arrival order.</summary>
    public async Task<IReadOnlyList<byte[]>> WaitForMessagesAsync(int count, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TestHost.Deadline);
        while (true)
        {
            var files = System.IO.Directory.GetFiles(Directory, "*.eml").Order(StringComparer.Ordinal).ToArray();
            if (files.Length >= count)
            {
                var result = new List<byte[]>(files.Length);
                foreach (var file in files)
                {
                    result.Add(await File.ReadAllBytesAsync(file, ct));
                }

                return result;
            }

            if (_process.HasExited)
            {
                Assert.Fail($"python smtpd exited with {_process.ExitCode}: {await _process.StandardError.ReadToEndAsync(ct)}");
            }

            await Task.Delay(10, deadline.Token);
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
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
