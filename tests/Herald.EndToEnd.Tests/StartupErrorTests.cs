using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests;

/// <summary>Issue 6: every misconfiguration a newcomer hits ends the process with one clear line, not a stack trace.</summary>
public sealed class StartupErrorTests(PostgresFixture postgres)
{
    public static TheoryData<string, string[]> Misconfigurations => new()
    {
        { "Cannot use the postgres database", ["--Herald:Storage=postgres", "--ConnectionStrings:Postgres=Host=127.0.0.1;Port=1;Username=x;Password=y;Database=z;Timeout=3"] },
        { "ConnectionStrings:Postgres is invalid", ["--Herald:Storage=postgres", "--ConnectionStrings:Postgres=Hostx=foo"] },
        { "ConnectionStrings:Postgres is not set", ["--Herald:Storage=postgres"] },
        { "Herald:Storage must be 'sqlite' or 'postgres'", ["--Herald:Storage=mysql"] },
        { "Unknown role 'wrker'", ["wrker"] },
        { "Herald:Secrets:Key is not valid base64", ["--Herald:Secrets:Key=not base64!"] },
        { "Herald:Secrets:Key must be base64 of 32 bytes", ["--Herald:Secrets:Key=c2hvcnQ="] },
        // Issue #13 item 6: the admin key opens every tenant, so a guessable one is refused at start.
        { "ConnectionStrings:Postgres is invalid: it sets 'Include Error Detail'", ["--Herald:Storage=postgres", "--ConnectionStrings:Postgres=Host=127.0.0.1;Port=1;Username=x;Password=y;Database=z;Include Error Detail=true"] },
        { "Herald:AdminKey is too weak: it has 9 characters", ["--Herald:AdminKey=admin-key"] },
        { "Herald:AdminKey is too weak: it repeats a few characters", ["--Herald:AdminKey=" + new string('a', 20) + new string('b', 20)] },
        { "Herald:AdminKey is too weak: it contains 'change-me'", ["--Herald:AdminKey=dev-admin-key-change-me-Xq7Lp2Vw9Zr4Ty"] },
        { "Herald:AdminKey is too weak: it contains '0123456789'", ["--Herald:AdminKey=test-admin-key-0123456789abcdefghjk"] },
    };

    [Theory]
    [MemberData(nameof(Misconfigurations))]
    public async Task Misconfiguration_ExitsWithOneClearLine(string expected, string[] args)
    {
        using var folder = new TempFolder();

        var (exitCode, stderr) = await RunServerAsync(folder.Path, [.. args, "--urls", "http://127.0.0.1:0"]);

        Assert.Equal(2, exitCode);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingMigrations_WithoutMigrateOnStart_ExplainsHowToMigrate()
    {
        using var folder = new TempFolder();

        var (exitCode, stderr) = await RunServerAsync(folder.Path, ["--Herald:MigrateOnStart=false", "--urls", "http://127.0.0.1:0"]);

        Assert.Equal(2, exitCode);
        Assert.Matches(@"lacks \d+ migration\(s\)", stderr);
        Assert.Contains("migrate", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostgresWithoutSecretsKey_ExplainsThatNodesShareOne()
    {
        using var folder = new TempFolder();
        var database = await postgres.CreateDatabaseAsync("startup_no_secrets_key", TestContext.Current.CancellationToken);

        var (exitCode, stderr) = await RunServerAsync(
            folder.Path, ["--Herald:Storage=postgres", $"--ConnectionStrings:Postgres={database}", "--urls", "http://127.0.0.1:0"]);

        Assert.Equal(2, exitCode);
        Assert.Contains("Herald:Secrets:Key is not set", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PortInUse_SaysSoAndHowToChooseAnother()
    {
        using var folder = new TempFolder();
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var (exitCode, stderr) = await RunServerAsync(folder.Path, ["--urls", $"http://127.0.0.1:{port}"]);

        Assert.Equal(2, exitCode);
        Assert.Contains("The listen address is in use", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Stderr)> RunServerAsync(string workingDirectory, string[] args)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Herald.Server.dll"), .. args])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["Logging__LogLevel__Default"] = "None";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        await stdout;
        return (process.ExitCode, await stderr);
    }
}
