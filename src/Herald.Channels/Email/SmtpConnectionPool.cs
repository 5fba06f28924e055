using System.Collections.Concurrent;
using Herald.Channels.Egress;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace Herald.Channels.Email;

/// <summary>No TCP connection to the relay (refused, unreachable or timed out: one failure, on purpose).</summary>
internal sealed class SmtpConnectFailedException(Exception inner) : IOException("no connection to the SMTP relay", inner);

/// <summary>One SMTP connection: a MailKit client that is connected and authenticated once, then reused.</summary>
internal sealed class PooledSmtpConnection(SmtpClient client, DateTimeOffset createdAt) : IDisposable
{
    public SmtpClient Client { get; } = client;

    public DateTimeOffset CreatedAt { get; } = createdAt;

    public DateTimeOffset LastUsedAt { get; set; } = createdAt;

    /// <summary>True once a send went through it: a failure on a reused connection may just mean the relay closed
    /// it while idle, which is worth one more try on a fresh connection.</summary>
    public bool Reused { get; set; }

    public void Dispose() => Client.Dispose();
}

/// <summary>
/// Connections of one provider account, at most <see cref="SmtpSettings.MaxConnections"/> open or in use at once.
/// A send rents one (waiting when all are busy), and returns it when the relay answered; a connection in an
/// unknown state (I/O error, timeout, cancellation) is closed instead. Idle connections older than
/// <see cref="IdleLimit"/> or past the connection lifetime are closed on the next rent, because relays drop idle
/// clients (Postfix after 300 s, many after 60 s) and DNS may have moved.
/// </summary>
internal sealed class SmtpConnectionPool(SmtpSettings settings, string raw, ChannelsOptions options, EgressGuard egress, TimeProvider time) : IDisposable
{
    public static readonly TimeSpan IdleLimit = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _slots = new(settings.MaxConnections, settings.MaxConnections);
    private readonly ConcurrentStack<PooledSmtpConnection> _idle = new();
    private volatile bool _disposed;

    public SmtpSettings Settings { get; } = settings;

    /// <summary>The settings text this pool was built from: a changed text means a new pool.</summary>
    public string Raw { get; } = raw;

    /// <summary>A connection for one send; not necessarily connected yet (see <see cref="OpenAsync"/>).</summary>
    public async Task<PooledSmtpConnection> RentAsync(CancellationToken ct)
    {
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        var now = time.GetUtcNow();
        while (_idle.TryPop(out var pooled))
        {
            if (pooled.Client.IsConnected && now - pooled.LastUsedAt < IdleLimit && now - pooled.CreatedAt < options.PooledConnectionLifetime)
            {
                return pooled;
            }

            Close(pooled);
        }

        return new PooledSmtpConnection(new DsnSmtpClient { Timeout = (int)options.HttpTimeout.TotalMilliseconds }, now);
    }

    /// <summary>Connects and authenticates a fresh connection; the connect is bounded by
    /// <see cref="ChannelsOptions.ConnectTimeout"/>.</summary>
    public async Task OpenAsync(PooledSmtpConnection connection, CancellationToken ct)
    {
        var client = connection.Client;
        using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            connectTimeout.CancelAfter(options.ConnectTimeout);
            var socketOptions = Settings.Security switch
            {
                SmtpSecurity.Ssl => SecureSocketOptions.SslOnConnect,
                SmtpSecurity.None => SecureSocketOptions.None,
                _ => SecureSocketOptions.StartTls,
            };
            // Resolved, checked and connected by the egress guard; MailKit gets the socket and the name (for TLS).
            System.Net.Sockets.Socket socket;
            try
            {
                socket = await egress.ConnectAsync(Settings.Host, Settings.Port, connectTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                // Refused and timed out read the same: the outcome must not tell a tenant which ports answer.
                throw new SmtpConnectFailedException(e);
            }

            try
            {
                await client.ConnectAsync(socket, Settings.Host, Settings.Port, socketOptions, connectTimeout.Token).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        if (Settings.Username is not null)
        {
            await client.AuthenticateAsync(Settings.Username, Settings.Password ?? string.Empty, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Gives a connection back: kept for the next send when <paramref name="reusable"/> and still
    /// connected, closed otherwise.</summary>
    public void Return(PooledSmtpConnection connection, bool reusable)
    {
        try
        {
            if (reusable && !_disposed && connection.Client.IsConnected)
            {
                connection.LastUsedAt = time.GetUtcNow();
                connection.Reused = true;
                _idle.Push(connection);
                if (_disposed)
                {
                    Drain();
                }
            }
            else
            {
                Close(connection);
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    public void Dispose()
    {
        _disposed = true;
        Drain();
    }

    private void Drain()
    {
        while (_idle.TryPop(out var pooled))
        {
            Close(pooled);
        }
    }

    // Dispose drops the socket without QUIT: saying goodbye would need an await on paths that must not block, and
    // relays treat a dropped idle connection like a QUIT.
    private static void Close(PooledSmtpConnection connection) => connection.Dispose();
}
