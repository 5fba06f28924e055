using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Herald.Channels.Tests.Email;

/// <summary>
/// A real SMTP server not written here: aiosmtpd (Debian's <c>python3-aiosmtpd</c>, which <c>scripts/test.sh</c>
/// installs), run by Debian's Python with a small handler, on a loopback port it binds itself (no port race). Each
/// message is written as an .eml file into a temporary directory. Recipients ending <c>@reject.test</c> get
/// <c>550 5.7.1</c> and <c>@defer.test</c> <c>451 4.3.0</c> at the end of DATA.
/// </summary>
public sealed class AiosmtpdServer : IAsyncDisposable
{
    /// <summary>Debian's interpreter: the package installs into its dist-packages, which another python3 on the PATH
    /// (pyenv, a venv) does not see.</summary>
    private const string DebianPython = "/usr/bin/python3";

    private const string Script = """
        import asyncio, logging, os, sys
        from aiosmtpd.smtp import SMTP
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        out = sys.argv[1]

        class Handler:
            count = 0
            async def handle_DATA(self, server, session, envelope):
                rcpts = envelope.rcpt_tos
                if any(r.endswith("@reject.test") for r in rcpts):
                    return "550 5.7.1 Message rejected by policy"
                if any(r.endswith("@defer.test") for r in rcpts):
                    return "451 4.3.0 Try again later"
                Handler.count += 1
                path = os.path.join(out, "%05d" % Handler.count)
                with open(path + ".tmp", "wb") as f:
                    f.write(("X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (envelope.mail_from, ",".join(rcpts))).encode())
                    f.write(envelope.original_content)
                os.rename(path + ".tmp", path + ".eml")
                return "250 2.0.0 Message accepted for delivery"

        async def main():
            handler = Handler()
            server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler, hostname="aiosmtpd.test"), "127.0.0.1", 0)
            print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
            await server.serve_forever()

        asyncio.run(main())
        """;

    private readonly Process _process;
    private readonly StringBuilder _stderr;

    private AiosmtpdServer(Process process, StringBuilder stderr, int port, string directory)
    {
        _process = process;
        _stderr = stderr;
        Port = port;
        Directory = directory;
    }

    public int Port { get; }

    /// <summary>Where received messages land as <c>NNNNN.eml</c>.</summary>
    public string Directory { get; }

    /// <summary>Starts the server; throws (never skips) when Debian's python3 or its aiosmtpd package is missing.</summary>
    public static async Task<AiosmtpdServer> StartAsync(CancellationToken ct)
    {
        var directory = Path.Combine(Path.GetTempPath(), "herald-aiosmtpd-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var script = Path.Combine(directory, "server.py");
        await File.WriteAllTextAsync(script, Script, ct);

        var start = new ProcessStartInfo(File.Exists(DebianPython) ? DebianPython : "python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(directory);

        var stderr = new StringBuilder();
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception("python3 did not start");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"python3 is not available ({e.Message}); install python3-aiosmtpd (scripts/test.sh does).", e);
        }

        // Drained as it comes so a chatty server can never block on a full pipe.
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // Bounds a hung start only: a python3 start on a loaded 2-core machine has taken longer than 20 s.
        deadline.CancelAfter(TimeSpan.FromSeconds(90));
        var line = await process.StandardOutput.ReadLineAsync(deadline.Token);
        if (line is null || !line.StartsWith("PORT ", StringComparison.Ordinal))
        {
            await process.WaitForExitAsync(deadline.Token);
            process.Dispose();
            string error;
            lock (stderr)
            {
                error = stderr.ToString();
            }

            throw new InvalidOperationException(error.Contains("No module named 'aiosmtpd'", StringComparison.Ordinal)
                ? "Debian's python3 has no aiosmtpd module: apt-get install python3-aiosmtpd (scripts/test.sh does)."
                : $"aiosmtpd did not start: {error}");
        }

        return new AiosmtpdServer(process, stderr, int.Parse(line.AsSpan(5), CultureInfo.InvariantCulture), directory);
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
                lock (_stderr)
                {
                    Assert.Fail($"aiosmtpd exited with {_process.ExitCode}: {_stderr}");
                }
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
