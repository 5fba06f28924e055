using Herald.Channels.Email;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Sandbox;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Outages;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Smtp;
using Herald.Sandbox.Throttling;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Herald.Channels.Tests.Email;

/// <summary>Herald's own SMTP simulator on 127.0.0.1 and a free port, started per test.</summary>
public sealed class SmtpSandbox : IAsyncDisposable
{
    private SmtpSandbox(SmtpSimulator simulator, SandboxMailbox mailbox, SandboxSettings settings, SandboxStats stats, SandboxOutages outages)
    {
        Simulator = simulator;
        Mailbox = mailbox;
        Settings = settings;
        Stats = stats;
        Outages = outages;
    }

    public SandboxOutages Outages { get; }

    public SmtpSimulator Simulator { get; }

    public SandboxMailbox Mailbox { get; }

    public SandboxSettings Settings { get; }

    public SandboxStats Stats { get; }

    public int Port => Simulator.Port ?? throw new InvalidOperationException("simulator not listening");

    public static async Task<SmtpSandbox> StartAsync()
    {
        var options = Options.Create(new SandboxOptions { SmtpPort = 0 });
        var time = TimeProvider.System;
        var mailbox = new SandboxMailbox(options);
        var settings = new SandboxSettings(options);
        var stats = new SandboxStats(time);
        var outages = new SandboxOutages();
        var simulator = new SmtpSimulator(options, settings, mailbox, new SandboxRateLimiter(time), stats, outages, time, NullLogger<SmtpSimulator>.Instance);
        await simulator.StartAsync(CancellationToken.None);
        return new SmtpSandbox(simulator, mailbox, settings, stats, outages);
    }

    public ValueTask DisposeAsync() => Simulator.DisposeAsync();

    /// <summary>A port nothing listens on, held (bound, not listening) so nothing can start listening there.</summary>
    public static int FreePort() => Herald.Testing.ClosedPort.Reserve();

    public static ProviderAccount Account(
        int port,
        string? username = null,
        string? password = null,
        string fromAddress = "alerts@bank.example",
        string fromName = "Example Bank",
        int maxConnections = 4) =>
        new(Guid.NewGuid(), Guid.NewGuid(), Channel.Email, SmtpEmailConnector.ConnectorKind, "smtp",
            $$"""
            {"host":"127.0.0.1","port":{{port}},"security":"none","username":{{Json(username)}},"password":{{Json(password)}},
             "fromAddress":"{{fromAddress}}","fromName":"{{fromName}}","subject":"Message from {fromName}","maxConnections":{{maxConnections}}}
            """,
            1, true, DateTimeOffset.UnixEpoch);

    private static string Json(string? value) => value is null ? "null" : System.Text.Json.JsonSerializer.Serialize(value);
}
