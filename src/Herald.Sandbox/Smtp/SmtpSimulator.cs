using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Throttling;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox.Smtp;

/// <summary>
/// A small real SMTP server (RFC 5321 subset, no TLS) on 127.0.0.1, so any SMTP client (MailKit, a relay, swaks)
/// works against it. EHLO/HELO, MAIL FROM, RCPT TO, DATA with dot-stuffing, RSET, NOOP, VRFY, QUIT, and AUTH
/// PLAIN/LOGIN accepting any credentials. Every accepted message is parsed with MimeKit and recorded in the
/// <see cref="SandboxMailbox"/> as channel <c>email</c>, once per recipient.
/// Magic recipient: an address ending <c>@bounce.test</c> is refused at RCPT TO with <c>550 5.1.1 User unknown</c>.
/// Shaping: <see cref="SandboxSettings"/> latency delays the answer to the end of DATA; the failure rate answers it
/// with <c>451 4.3.0</c>; the rate limit (per account) with <c>451 4.7.1</c>.
/// </summary>
public sealed partial class SmtpSimulator(
    IOptions<SandboxOptions> options,
    SandboxSettings settings,
    SandboxMailbox mailbox,
    SandboxRateLimiter rateLimiter,
    SandboxStats stats,
    TimeProvider time,
    ILogger<SmtpSimulator> logger) : IHostedService, IAsyncDisposable
{
    /// <summary>Channel name used in the mailbox and stats.</summary>
    public const string ChannelName = "email";

    /// <summary>The magic domain whose recipients bounce (SPEC §6).</summary>
    public const string BounceDomain = "@bounce.test";

    private readonly ConcurrentDictionary<long, Task> sessions = new();
    private readonly CancellationTokenSource stopping = new();
    private TcpListener? listener;
    private Task? acceptLoop;
    private long connectionsAccepted;
    private long nextSessionId;
    private int port;

    /// <summary>The port the simulator listens on (127.0.0.1), or null when disabled or not started.</summary>
    public int? Port => Volatile.Read(ref port) is > 0 and var p ? p : null;

    /// <summary>The host to point SMTP clients at.</summary>
    public static string Host => IPAddress.Loopback.ToString();

    /// <summary>TCP connections accepted since start: lets tests see whether a client reuses connections.</summary>
    public long ConnectionsAccepted => Interlocked.Read(ref connectionsAccepted);

    /// <summary>Sessions open right now.</summary>
    public int ActiveConnections => sessions.Count;

    /// <summary>Binds the listener (so <see cref="Port"/> is known once the host has started) and starts accepting.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.Enabled || o.SmtpPort is null or < 0 || listener is not null)
        {
            return Task.CompletedTask;
        }

        var l = new TcpListener(IPAddress.Loopback, o.SmtpPort.Value);
        l.Start(512);
        listener = l;
        Volatile.Write(ref port, ((IPEndPoint)l.LocalEndpoint).Port);
        LogListening(logger, Host, Port!.Value);
        acceptLoop = AcceptLoopAsync(l, stopping.Token);
        return Task.CompletedTask;
    }

    /// <summary>Stops accepting and closes open sessions.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (listener is null)
        {
            return;
        }

        await stopping.CancelAsync().ConfigureAwait(false);
        listener.Stop();
        if (acceptLoop is not null)
        {
            await acceptLoop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        await Task.WhenAll(sessions.Values).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!stopping.IsCancellationRequested)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        listener?.Dispose();
        stopping.Dispose();
    }

    private async Task AcceptLoopAsync(TcpListener l, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await l.AcceptSocketAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (ct.IsCancellationRequested)
                {
                    return;
                }

                LogAcceptFailed(logger, e);
                continue;
            }

            Interlocked.Increment(ref connectionsAccepted);
            var id = Interlocked.Increment(ref nextSessionId);
            var session = new SmtpSession(this, socket);
            sessions[id] = RunSessionAsync(id, session, ct);
        }
    }

    private async Task RunSessionAsync(long id, SmtpSession session, CancellationToken ct)
    {
        try
        {
            await Task.Yield();
            await session.RunAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or we are stopping: nothing to answer.
        }
        catch (Exception e)
        {
            LogSessionFailed(logger, e);
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
            sessions.TryRemove(id, out _);
        }
    }

    internal int MaxMessageBytes => options.Value.SmtpMaxMessageBytes;

    internal SandboxSettingsSnapshot CurrentSettings => settings.Current;

    internal TimeProvider Time => time;

    internal SandboxStats Stats => stats;

    internal SandboxRateLimiter RateLimiter => rateLimiter;

    internal SandboxMailbox Mailbox => mailbox;

    [LoggerMessage(EventId = 5300, Level = LogLevel.Information, Message = "Sandbox SMTP simulator listening on {Host}:{Port}")]
    private static partial void LogListening(ILogger logger, string host, int port);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Warning, Message = "Sandbox SMTP simulator could not accept a connection")]
    private static partial void LogAcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Warning, Message = "Sandbox SMTP session failed")]
    private static partial void LogSessionFailed(ILogger logger, Exception exception);
}
