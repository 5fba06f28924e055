using Herald.Channels.Callbacks;
using Herald.Channels.Egress;
using Herald.Core.Delivery;
using Herald.Core.Providers;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Sms.Smpp;

/// <summary>
/// The long-lived session of one provider account: binds, and after a drop or a refused bind binds again with
/// exponential backoff (from reconnectMinSeconds doubling to reconnectMaxSeconds, each wait scaled by a random
/// 50–100 % so that many Herald nodes do not reconnect in step). While no session is bound, sends end at once as
/// transient with the last connect or bind error, so the dispatcher's circuit breaker can open.
/// </summary>
internal sealed partial class SmppAccountLink : IAsyncDisposable
{
    private readonly ProviderAccount _account;
    private readonly IReceiptSink _sink;
    private readonly EgressGuard _egress;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SmppClientSession? _session;
    private Failure? _failure;
    private Task? _loop;

    public SmppAccountLink(ProviderAccount account, SmppSettings settings, IReceiptSink sink, EgressGuard egress, TimeProvider time, ILogger logger)
    {
        _account = account;
        _egress = egress;
        Settings = settings;
        _sink = sink;
        _time = time;
        _logger = logger;
    }

    public SmppSettings Settings { get; }

    /// <summary>Sessions bound so far (tests watch reconnects with it).</summary>
    public int Binds { get; private set; }

    public bool IsBound => _session is { IsOpen: true };

    /// <summary>Starts the bind loop once.</summary>
    public void Start()
    {
        lock (_gate)
        {
            _loop ??= RunAsync(_stop.Token);
        }
    }

    /// <summary>Submits every part in order; the outcome is the first part's message id, or the first refusal. The
    /// ids of every part of a concatenated message are recorded with the sink before the outcome is returned. A
    /// transient refusal after some parts were taken is <see cref="SendOutcome.PartialSendCode"/>: the dispatcher must not send the
    /// text through another account (the SMSC has its first parts); a retry sends every part again under the same
    /// concatenation reference, which the handset reassembles once.</summary>
    /// <param name="nextPartPermit">The account's rate limit for every part after the first (each is a submit_sm the
    /// SMSC counts); null without a limit.</param>
    public async Task<SendOutcome> SendAsync(
        Guid attemptId, IReadOnlyList<SmppShortMessage> parts, Func<CancellationToken, ValueTask<TimeSpan?>>? nextPartPermit, CancellationToken ct)
    {
        Start();
        var session = await BoundSessionAsync(ct).ConfigureAwait(false);
        if (session is null)
        {
            var failure = _failure ?? new Failure("connect_failed", "the SMPP session is not bound", _time.GetUtcNow());
            var retry = failure.RetryAt - _time.GetUtcNow();
            return SendOutcome.Transient(failure.Code, failure.Message, retry > TimeSpan.Zero ? retry : null);
        }

        var ids = new string[parts.Count];
        for (var i = 0; i < parts.Count; i++)
        {
            if (i > 0 && nextPartPermit is not null && await nextPartPermit(ct).ConfigureAwait(false) is { } retryAfter)
            {
                return SendOutcome.Transient(SendOutcome.PartialSendCode,
                    $"part {i + 1} of {parts.Count} held back by the account's rate limit", retryAfter);
            }

            var outcome = await SubmitAsync(session, parts[i], ct).ConfigureAwait(false);
            if (outcome.Kind != SendOutcomeKind.Accepted)
            {
                return i == 0 || outcome.Kind != SendOutcomeKind.TransientFailure
                    ? outcome
                    : outcome with { ErrorCode = SendOutcome.PartialSendCode, Error = $"part {i + 1} of {parts.Count} ({outcome.ErrorCode}): {outcome.Error}" };
            }

            ids[i] = outcome.ProviderMessageId!;
        }

        if (ids.Length > 1)
        {
            try
            {
                await _sink.RecordPartsAsync(_account, attemptId, ids, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // Every part is at the SMSC: a resend would duplicate the text. The attempt then goes by its first
                // part's receipt, as before parts were tracked.
                LogPartsNotRecorded(_logger, _account.Id, attemptId, ids.Length, e.Message);
            }
        }

        return new SendOutcome(SendOutcomeKind.Accepted, ProviderMessageId: ids[0]);
    }

    /// <summary>One submit_sm: accepted with its message id, or the refusal.</summary>
    private async Task<SendOutcome> SubmitAsync(SmppClientSession session, SmppShortMessage part, CancellationToken ct)
    {
        SmppPdu response;
        try
        {
            response = await session.SubmitAsync(part, ct).ConfigureAwait(false);
        }
        catch (SmppSessionClosedException)
        {
            // The reason may quote the SMSC or the socket: kept for the log (LogDropped), not for the tenant.
            return SendOutcome.Transient("connection_lost", "the SMPP session closed before the SMSC answered");
        }
        catch (TimeoutException)
        {
            return SendOutcome.Transient("timeout", $"no submit_sm_resp within {Settings.ResponseTimeoutSeconds} s");
        }

        if (response.CommandId == SmppCommand.GenericNack)
        {
            return SendOutcome.Transient("generic_nack", $"the SMSC answered submit_sm with generic_nack {SmppStatus.Name(response.Status)}");
        }

        if (response.Status != SmppStatus.Ok)
        {
            return SmppErrors.Map(response.Status);
        }

        return string.IsNullOrEmpty(response.Id)
            ? SendOutcome.Transient("malformed_response", "submit_sm_resp without a message_id")
            : new SendOutcome(SendOutcomeKind.Accepted, ProviderMessageId: Settings.SubmittedId(response.Id));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    /// <summary>The bound session; waits for a connect attempt under way, null when the last one failed.</summary>
    private async Task<SmppClientSession?> BoundSessionAsync(CancellationToken ct)
    {
        for (var i = 0; i < 3; i++)
        {
            var changed = Volatile.Read(ref _changed);
            if (_session is { IsOpen: true } session)
            {
                return session;
            }

            if (_failure is not null)
            {
                return null;
            }

            await changed.Task.WaitAsync(ct).ConfigureAwait(false);
        }

        return _session is { IsOpen: true } s ? s : null;
    }

    private void Changed(SmppClientSession? session, Failure? failure)
    {
        _session = session;
        _failure = failure;
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        await Task.Yield();
        var attempt = 0;
        while (!stop.IsCancellationRequested)
        {
            string code, message;
            try
            {
                var session = await SmppClientSession.OpenAsync(Settings, _egress, OnDeliverAsync, _time, _logger, stop).ConfigureAwait(false);
                Binds++;
                attempt = 0;
                LogBound(_logger, _account.Id, Settings.Host, Settings.Port);
                Changed(session, null);
                try
                {
                    var reason = await session.Closed.WaitAsync(stop).ConfigureAwait(false);
                    LogDropped(_logger, _account.Id, reason);
                }
                catch (OperationCanceledException)
                {
                    await session.UnbindAsync(CancellationToken.None).ConfigureAwait(false);
                    await session.DisposeAsync().ConfigureAwait(false);
                    Changed(null, new Failure("connect_failed", "the SMPP session was closed", _time.GetUtcNow()));
                    return;
                }

                await session.DisposeAsync().ConfigureAwait(false);
                (code, message) = ("connection_lost", "the SMPP session dropped; reconnecting");
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (SmppBindException e)
            {
                (code, message) = ("bind_failed", e.Message);
                LogBindFailed(_logger, _account.Id, SmppStatus.Name(e.Status));
            }
            catch (EgressRefusedException e)
            {
                (code, message) = (EgressErrors.RefusedCode, EgressErrors.Refused("SMSC").Error!);
                LogConnectFailed(_logger, _account.Id, e.Message);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or SmppSessionClosedException)
            {
                // One text for refused, unreachable and timed out: the tenant learns nothing about the far side's ports.
                (code, message) = ("network", "could not connect or bind to the SMSC");
                LogConnectFailed(_logger, _account.Id, e.Message);
            }

            var delay = Backoff(attempt++);
            Changed(null, new Failure(code, message, _time.GetUtcNow() + delay));
            try
            {
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private TimeSpan Backoff(int attempt)
    {
        var min = Math.Max(0.05, Settings.ReconnectMinSeconds);
        var seconds = Math.Min(Settings.ReconnectMaxSeconds, min * Math.Pow(2, Math.Min(attempt, 20)));
        return TimeSpan.FromSeconds(seconds * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    /// <summary>Where mobile-originated messages go (issue #16); null: they are acknowledged and dropped.</summary>
    public IInboundMessageSink? Inbound { get; init; }

    private async Task<uint> OnDeliverAsync(SmppShortMessage message, CancellationToken ct)
    {
        if (Inbound is not null && SmppReceipts.IsMobileOriginated(message))
        {
            // A customer's SMS: a throw here answers ESME_RX_T_APPN, so the SMSC delivers it again later.
            await Inbound.AcceptAsync(_account, [SmppReceipts.ToInbound(message, _time.GetUtcNow())], ct).ConfigureAwait(false);
            return SmppStatus.Ok;
        }

        var receipt = SmppReceipts.Parse(message);
        if (receipt is null)
        {
            // A receipt without an id, or a mobile-originated message with no host to take it: acknowledged.
            LogNotReceipt(_logger, _account.Id, message.EsmClass);
            return SmppStatus.Ok;
        }

        if ((receipt with { MessageId = Settings.ReceiptedId(receipt.MessageId) }).ToProviderReceipt(_time.GetUtcNow()) is { } providerReceipt)
        {
            await _sink.AcceptAsync(new InboundBatch(_account, [providerReceipt]) { MayNameParts = true }, ct).ConfigureAwait(false);
        }

        return SmppStatus.Ok;
    }

    [LoggerMessage(EventId = 3700, Level = LogLevel.Error, Message = "SMPP account {AccountId}: the {Parts} part ids of attempt {AttemptId} were not recorded; it will count as delivered on its first part's receipt: {Reason}")]
    private static partial void LogPartsNotRecorded(ILogger logger, Guid accountId, Guid attemptId, int parts, string reason);

    private sealed record Failure(string Code, string Message, DateTimeOffset RetryAt);

    [LoggerMessage(EventId = 3400, Level = LogLevel.Information, Message = "SMPP account {AccountId} bound to {Host}:{Port}")]
    private static partial void LogBound(ILogger logger, Guid accountId, string host, int port);

    [LoggerMessage(EventId = 3401, Level = LogLevel.Warning, Message = "SMPP account {AccountId} session dropped: {Reason}")]
    private static partial void LogDropped(ILogger logger, Guid accountId, string reason);

    [LoggerMessage(EventId = 3402, Level = LogLevel.Warning, Message = "SMPP account {AccountId} bind refused: {Status}")]
    private static partial void LogBindFailed(ILogger logger, Guid accountId, string status);

    [LoggerMessage(EventId = 3403, Level = LogLevel.Warning, Message = "SMPP account {AccountId} could not connect: {Reason}")]
    private static partial void LogConnectFailed(ILogger logger, Guid accountId, string reason);

    [LoggerMessage(EventId = 3404, Level = LogLevel.Debug, Message = "SMPP account {AccountId} got a deliver_sm that is not a receipt (esm_class {EsmClass}); acknowledged")]
    private static partial void LogNotReceipt(ILogger logger, Guid accountId, byte esmClass);
}
