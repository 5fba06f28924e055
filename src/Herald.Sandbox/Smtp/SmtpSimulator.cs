using System.Net.Sockets;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Tcp;
using Herald.Sandbox.Throttling;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox.Smtp;

/// <summary>
/// A small real SMTP server (RFC 5321 subset, no TLS) on 127.0.0.1, so any SMTP client (MailKit, a relay, swaks)
/// works against it. EHLO/HELO, MAIL FROM, RCPT TO, DATA with dot-stuffing, RSET, NOOP, VRFY, QUIT, and AUTH
/// PLAIN/LOGIN accepting any credentials. Every accepted message is parsed with MimeKit and recorded in the
/// <see cref="SandboxMailbox"/> as channel <c>email</c>, once per recipient.
/// Magic recipients: an address ending <c>@bounce.test</c> is refused at RCPT TO with <c>550 5.1.1 User unknown</c>;
/// one ending <c>@late-bounce.test</c> is accepted, and then bounces like a remote mailbox that does not exist: a
/// delivery status notification (RFC 3464, honouring ENVID, RET and NOTIFY of the DSN extension, which the server
/// announces) goes back to the envelope sender. A sender of the form <c>bounces+{accountId}@…</c> gets it through
/// <see cref="SmtpBounceDispatcher"/> (Herald's bounce endpoint); any other lands in the sandbox mailbox.
/// Shaping: <see cref="SandboxSettings"/> latency delays the answer to the end of DATA; the failure rate answers it
/// with <c>451 4.3.0</c>; the rate limit (per account) with <c>451 4.7.1</c>.
/// </summary>
public sealed class SmtpSimulator(
    IOptions<SandboxOptions> options,
    SandboxSettings settings,
    SandboxMailbox mailbox,
    SandboxRateLimiter rateLimiter,
    SandboxStats stats,
    Outages.SandboxOutages outages,
    TimeProvider time,
    ILogger<SmtpSimulator> logger,
    SmtpBounceDispatcher? bounces = null) : IHostedService, IAsyncDisposable
{
    /// <summary>Channel name used in the mailbox and stats.</summary>
    public const string ChannelName = "email";

    /// <summary>The magic domain whose recipients bounce (SPEC §6).</summary>
    public const string BounceDomain = "@bounce.test";

    /// <summary>The magic domain whose recipients are accepted and bounce afterwards with a DSN.</summary>
    public const string LateBounceDomain = "@late-bounce.test";

    /// <summary>The local part a VERP return path starts with, <c>bounces+{accountId}@…</c>: the sandbox hands reports
    /// for it to Herald (<see cref="SmtpBounceDispatcher"/>), and sandbox email accounts are provisioned with it.</summary>
    public const string VerpPrefix = "bounces+";

    private LoopbackListener? tcp;

    /// <summary>The port the simulator listens on (127.0.0.1), or null when disabled or not started.</summary>
    public int? Port => tcp?.Port;

    /// <summary>The host to point SMTP clients at.</summary>
    public static string Host => LoopbackListener.Host;

    /// <summary>TCP connections accepted since start: lets tests see whether a client reuses connections.</summary>
    public long ConnectionsAccepted => tcp?.ConnectionsAccepted ?? 0;

    /// <summary>Sessions open right now.</summary>
    public int ActiveConnections => tcp?.ActiveConnections ?? 0;

    /// <summary>Binds the listener (so <see cref="Port"/> is known once the host has started) and starts accepting.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.Enabled || o.SmtpPort is null or < 0 || tcp is not null)
        {
            return Task.CompletedTask;
        }

        tcp = new LoopbackListener("SMTP", RunSessionAsync, logger);
        try
        {
            tcp.Start(o.SmtpPort.Value);
        }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
        {
            tcp = null;
            throw new Tcp.SandboxPortInUseException("Herald:Sandbox:SmtpPort", o.SmtpPort.Value, e);
        }
        return Task.CompletedTask;
    }

    /// <summary>Stops accepting and closes open sessions.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => tcp?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    /// <inheritdoc />
    public ValueTask DisposeAsync() => tcp?.DisposeAsync() ?? ValueTask.CompletedTask;

    private async Task RunSessionAsync(Socket socket, long id, CancellationToken ct)
    {
        var session = new SmtpSession(this, socket);
        try
        {
            await session.RunAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal int MaxMessageBytes => options.Value.SmtpMaxMessageBytes;

    internal SandboxSettingsSnapshot CurrentSettings => settings.Current;

    internal TimeProvider Time => time;

    internal SandboxStats Stats => stats;

    /// <summary>Accounts (AUTH users) whose messages are answered 451 4.3.2 while they are out.</summary>
    internal Outages.SandboxOutages Outages => outages;

    internal SandboxRateLimiter RateLimiter => rateLimiter;

    internal SandboxMailbox Mailbox => mailbox;

    /// <summary>Where bounce reports for <c>bounces+{accountId}@…</c> senders go; null outside a host.</summary>
    internal SmtpBounceDispatcher? Bounces => bounces;
}
