using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Herald.Sandbox.Tcp;

/// <summary>
/// The TCP side of the simulators that speak their own protocol (SMTP, SMPP): a listener on 127.0.0.1 that runs one
/// session per accepted socket, counts connections, and on stop closes the listener and waits for every session.
/// A session that ends with an I/O error or by cancellation is a client that went away, not a failure.
/// </summary>
/// <param name="runSession">Runs one session over the accepted socket (it owns the socket) until the client leaves.</param>
/// <param name="isExpectedEnd">Further exceptions that end a session quietly (e.g. a protocol's own framing error,
/// which the session has already logged).</param>
public sealed partial class LoopbackListener(
    string protocol,
    Func<Socket, long, CancellationToken, Task> runSession,
    ILogger logger,
    Func<Exception, bool>? isExpectedEnd = null) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<long, Task> _sessions = new();
    private readonly CancellationTokenSource _stopping = new();
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private long _connectionsAccepted;
    private long _nextSessionId;
    private int _port;

    /// <summary>The host to point clients at.</summary>
    public static string Host => IPAddress.Loopback.ToString();

    /// <summary>The port it listens on, or null when not started.</summary>
    public int? Port => Volatile.Read(ref _port) is > 0 and var p ? p : null;

    /// <summary>TCP connections accepted since start: lets tests see whether a client reuses connections.</summary>
    public long ConnectionsAccepted => Interlocked.Read(ref _connectionsAccepted);

    /// <summary>Sessions open right now.</summary>
    public int ActiveConnections => _sessions.Count;

    /// <summary>Binds <paramref name="port"/> (0 = a free one), so <see cref="Port"/> is known on return, and starts accepting.</summary>
    public void Start(int port)
    {
        if (_listener is not null)
        {
            return;
        }

        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start(512);
        _listener = listener;
        Volatile.Write(ref _port, ((IPEndPoint)listener.LocalEndpoint).Port);
        LogListening(logger, protocol, Host, Port!.Value);
        _acceptLoop = AcceptLoopAsync(listener, _stopping.Token);
    }

    /// <summary>Stops accepting, cancels the sessions and waits for them.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is null || _stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        await Task.WhenAll(_sessions.Values).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _listener?.Dispose();
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(TcpListener listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (ct.IsCancellationRequested)
                {
                    return;
                }

                LogAcceptFailed(logger, e, protocol);
                continue;
            }

            Interlocked.Increment(ref _connectionsAccepted);
            var id = Interlocked.Increment(ref _nextSessionId);
            _sessions[id] = RunAsync(socket, id, ct);
        }
    }

    private async Task RunAsync(Socket socket, long id, CancellationToken ct)
    {
        try
        {
            await Task.Yield();
            await runSession(socket, id, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or EndOfStreamException
                                  || isExpectedEnd?.Invoke(e) == true)
        {
            // The client went away, we are stopping, or the session already said why it ended.
        }
        catch (Exception e)
        {
            LogSessionFailed(logger, e, protocol);
        }
        finally
        {
            _sessions.TryRemove(id, out _);
        }
    }

    [LoggerMessage(EventId = 6300, Level = LogLevel.Information, Message = "Sandbox {Protocol} simulator listening on {Host}:{Port}")]
    private static partial void LogListening(ILogger logger, string protocol, string host, int port);

    [LoggerMessage(EventId = 6301, Level = LogLevel.Warning, Message = "Sandbox {Protocol} simulator could not accept a connection")]
    private static partial void LogAcceptFailed(ILogger logger, Exception exception, string protocol);

    [LoggerMessage(EventId = 6302, Level = LogLevel.Warning, Message = "Sandbox {Protocol} session failed")]
    private static partial void LogSessionFailed(ILogger logger, Exception exception, string protocol);
}
