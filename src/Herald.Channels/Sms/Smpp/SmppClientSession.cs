using System.Collections.Concurrent;
using System.Net.Sockets;
using Herald.Channels.Egress;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Sms.Smpp;

/// <summary>The SMSC refused the bind (any status other than ESME_ROK on bind_transceiver_resp).</summary>
public sealed class SmppBindException(uint status)
    : Exception($"bind_transceiver refused with {SmppStatus.Name(status)}")
{
    public uint Status { get; } = status;
}

/// <summary>The session ended (dropped, unbound, or timed out) before a request got its response.</summary>
public sealed class SmppSessionClosedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One bound bind_transceiver session of an ESME (Herald's side). A read loop matches responses to requests by
/// sequence_number, answers the SMSC's enquire_link and unbind, and hands each deliver_sm to a callback whose
/// status it sends back in deliver_sm_resp. At most <see cref="SmppSettings.WindowSize"/> submit_sm wait for their
/// response at once. After <see cref="SmppSettings.EnquireLinkInterval"/> without traffic it sends enquire_link; one
/// left unanswered for <see cref="SmppSettings.ResponseTimeout"/> closes the session. When the session closes,
/// every request still waiting fails with <see cref="SmppSessionClosedException"/>.
/// </summary>
public sealed partial class SmppClientSession : IAsyncDisposable
{
    private readonly SmppConnection _connection;
    private readonly SmppSettings _settings;
    private readonly Func<SmppShortMessage, CancellationToken, Task<uint>> _onDeliver;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<SmppPdu>> _pending = new();
    private readonly ConcurrentDictionary<Task, byte> _handlers = new();
    private readonly SemaphoreSlim _window;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource<string> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _sequence;
    private long _lastActivity;
    private Task? _readLoop;
    private Task? _keepAlive;

    private SmppClientSession(Stream stream, SmppSettings settings, Func<SmppShortMessage, CancellationToken, Task<uint>> onDeliver, TimeProvider time, ILogger logger)
    {
        _connection = new SmppConnection(stream);
        _settings = settings;
        _onDeliver = onDeliver;
        _time = time;
        _logger = logger;
        _window = new SemaphoreSlim(settings.WindowSize, settings.WindowSize);
        Touch();
    }

    /// <summary>Completes with the reason when the session has closed.</summary>
    public Task<string> Closed => _closed.Task;

    public bool IsOpen => !_closed.Task.IsCompleted;

    /// <summary>Requests sent whose response has not arrived.</summary>
    public int Outstanding => _pending.Count;

    /// <summary>Connects, binds as a transceiver, and starts the read and keep-alive loops.</summary>
    /// <exception cref="SmppBindException">The SMSC refused the bind.</exception>
    /// <param name="egress">Resolves, checks and connects: the session talks only to an address the guard allowed.</param>
    public static async Task<SmppClientSession> OpenAsync(
        SmppSettings settings, EgressGuard egress, Func<SmppShortMessage, CancellationToken, Task<uint>> onDeliver, TimeProvider time, ILogger logger,
        CancellationToken ct)
    {
        Socket? socket = null;
        SmppClientSession? session = null;
        try
        {
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                connectTimeout.CancelAfter(settings.ResponseTimeout);
                try
                {
                    socket = await egress.ConnectAsync(settings.Host, settings.Port, connectTimeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new TimeoutException($"no TCP connection to {settings.Host}:{settings.Port} within {settings.ResponseTimeoutSeconds} s");
                }
            }

            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            session = new SmppClientSession(new NetworkStream(socket, ownsSocket: true), settings, onDeliver, time, logger);
            session._readLoop = session.ReadLoopAsync();
            var bind = new SmppBind(settings.SystemId, settings.Password, settings.SystemType, SmppFlags.InterfaceVersion34, 0, 0, "");
            var response = await session.RequestAsync(new SmppPdu(SmppCommand.BindTransceiver, 0, session.NextSequence()) { Bind = bind }, ct).ConfigureAwait(false);
            if (response.Status != SmppStatus.Ok)
            {
                throw new SmppBindException(response.Status);
            }

            session._keepAlive = session.KeepAliveLoopAsync();
            return session;
        }
        catch
        {
            if (session is not null)
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket?.Dispose();
            }

            throw;
        }
    }

    /// <summary>Sends one submit_sm within the window and returns its response (any status).</summary>
    /// <exception cref="SmppSessionClosedException">The session closed before the response arrived.</exception>
    /// <exception cref="TimeoutException">No response within the response timeout (the session stays open).</exception>
    public async Task<SmppPdu> SubmitAsync(SmppShortMessage message, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _closing.Token);
        try
        {
            await _window.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new SmppSessionClosedException("the SMPP session closed");
        }

        try
        {
            return await RequestAsync(new SmppPdu(SmppCommand.SubmitSm, 0, NextSequence()) { Message = message }, ct).ConfigureAwait(false);
        }
        finally
        {
            _window.Release();
        }
    }

    /// <summary>Sends unbind, waits briefly for unbind_resp, and closes.</summary>
    public async Task UnbindAsync(CancellationToken ct)
    {
        if (IsOpen)
        {
            try
            {
                await RequestAsync(SmppPdu.Header(SmppCommand.Unbind, NextSequence()), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SmppSessionClosedException or TimeoutException or IOException or ObjectDisposedException)
            {
                // Closing anyway.
            }
        }

        await CloseAsync("unbound by Herald").ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync("disposed").ConfigureAwait(false);
        if (_readLoop is not null)
        {
            await _readLoop.ConfigureAwait(false);
        }

        if (_keepAlive is not null)
        {
            await _keepAlive.ConfigureAwait(false);
        }

        // The window and the closing token are left to the GC: a send may still be releasing its slot.
        await Task.WhenAll(_handlers.Keys).ConfigureAwait(false);
    }

    private uint NextSequence()
    {
        // 1..0x7FFFFFFF, then wraps (§5.1.4).
        var next = (uint)Interlocked.Increment(ref _sequence) & 0x7FFFFFFF;
        return next == 0 ? (uint)Interlocked.Increment(ref _sequence) & 0x7FFFFFFF : next;
    }

    private void Touch() => Interlocked.Exchange(ref _lastActivity, _time.GetTimestamp());

    private async Task<SmppPdu> RequestAsync(SmppPdu request, CancellationToken ct)
    {
        var waiter = new TaskCompletionSource<SmppPdu>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[request.Sequence] = waiter;
        try
        {
            if (!IsOpen)
            {
                throw new SmppSessionClosedException("the SMPP session is closed");
            }

            try
            {
                await _connection.WriteAsync(request, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                await CloseAsync("write failed: " + e.Message).ConfigureAwait(false);
                throw new SmppSessionClosedException("the SMPP session dropped while sending", e);
            }

            Touch();
            return await waiter.Task.WaitAsync(_settings.ResponseTimeout, _time, ct).ConfigureAwait(false);
        }
        finally
        {
            _pending.TryRemove(request.Sequence, out _);
        }
    }

    private async Task ReadLoopAsync()
    {
        await Task.Yield();
        var reason = "the SMSC closed the connection";
        try
        {
            while (!_closing.IsCancellationRequested)
            {
                var frame = await _connection.ReadFrameAsync(_closing.Token).ConfigureAwait(false);
                if (frame is null)
                {
                    break;
                }

                Touch();
                SmppPdu pdu;
                try
                {
                    pdu = SmppCodec.Decode(frame);
                }
                catch (SmppProtocolException e)
                {
                    var (commandId, sequence) = SmppConnection.Peek(frame);
                    LogUndecodable(_logger, SmppCommand.Name(commandId), e.Message);
                    if (!SmppCommand.IsResponse(commandId))
                    {
                        await _connection.WriteAsync(SmppPdu.Header(SmppCommand.GenericNack, sequence, e.Status), _closing.Token).ConfigureAwait(false);
                    }

                    continue;
                }

                if (SmppCommand.IsResponse(pdu.CommandId))
                {
                    if (_pending.TryGetValue(pdu.Sequence, out var waiter))
                    {
                        waiter.TrySetResult(pdu);
                    }

                    continue;
                }

                switch (pdu.CommandId)
                {
                    case SmppCommand.EnquireLink:
                        await _connection.WriteAsync(SmppPdu.Header(SmppCommand.EnquireLinkResp, pdu.Sequence), _closing.Token).ConfigureAwait(false);
                        break;
                    case SmppCommand.Unbind:
                        await _connection.WriteAsync(SmppPdu.Header(SmppCommand.UnbindResp, pdu.Sequence), _closing.Token).ConfigureAwait(false);
                        reason = "the SMSC unbound";
                        return;
                    case SmppCommand.DeliverSm:
                        var handler = HandleDeliverAsync(pdu);
                        _handlers.TryAdd(handler, 0);
                        _ = handler.ContinueWith(t => _handlers.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        break;
                    default:
                        await _connection.WriteAsync(SmppPdu.Header(SmppCommand.GenericNack, pdu.Sequence, SmppStatus.InvalidCommandId), _closing.Token).ConfigureAwait(false);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            reason = "closed by Herald";
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or SmppProtocolException or EndOfStreamException)
        {
            reason = e.Message;
        }
        finally
        {
            await CloseAsync(reason).ConfigureAwait(false);
        }
    }

    private async Task HandleDeliverAsync(SmppPdu pdu)
    {
        await Task.Yield();
        uint status;
        try
        {
            status = await _onDeliver(pdu.Message!, _closing.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !_closing.IsCancellationRequested)
        {
            // Herald could not take it now: a temporary error asks the SMSC to deliver it again later.
            LogDeliverFailed(_logger, e);
            status = SmppStatus.TemporaryAppError;
        }
        catch (OperationCanceledException)
        {
            return;
        }

        try
        {
            await _connection.WriteAsync(new SmppPdu(SmppCommand.DeliverSmResp, status, pdu.Sequence) { Id = "" }, _closing.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The session dropped: the SMSC redelivers unacknowledged receipts on the next bind.
        }
    }

    private async Task KeepAliveLoopAsync()
    {
        var interval = _settings.EnquireLinkInterval;
        try
        {
            while (!_closing.IsCancellationRequested)
            {
                var idle = _time.GetElapsedTime(Interlocked.Read(ref _lastActivity));
                if (idle < interval)
                {
                    await Task.Delay(interval - idle, _time, _closing.Token).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    await RequestAsync(SmppPdu.Header(SmppCommand.EnquireLink, NextSequence()), _closing.Token).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    await CloseAsync($"enquire_link unanswered for {_settings.ResponseTimeoutSeconds} s").ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SmppSessionClosedException)
        {
            // Closing.
        }
    }

    private async Task CloseAsync(string reason)
    {
        if (!_closed.TrySetResult(reason))
        {
            return;
        }

        await _closing.CancelAsync().ConfigureAwait(false);
        foreach (var (_, waiter) in _pending)
        {
            waiter.TrySetException(new SmppSessionClosedException("the SMPP session closed: " + reason));
        }

        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 3410, Level = LogLevel.Warning, Message = "SMPP: undecodable {Command} from the SMSC: {Reason}")]
    private static partial void LogUndecodable(ILogger logger, string command, string reason);

    [LoggerMessage(EventId = 3411, Level = LogLevel.Warning, Message = "SMPP: a deliver_sm could not be handed to Herald; answered ESME_RX_T_APPN so the SMSC retries")]
    private static partial void LogDeliverFailed(ILogger logger, Exception exception);
}
