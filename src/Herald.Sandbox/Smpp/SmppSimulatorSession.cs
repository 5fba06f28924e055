using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Herald.Channels.Sms.Smpp;
using Herald.Sandbox.Mailbox;

namespace Herald.Sandbox.Smpp;

/// <summary>One ESME connection to the <see cref="SmppSimulator"/>.</summary>
internal sealed class SmppSimulatorSession(SmppSimulator smsc, Stream stream) : IAsyncDisposable
{
    private static readonly TimeSpan ReceiptAnswerTimeout = TimeSpan.FromSeconds(10);

    private readonly SmppConnection connection = new(stream);
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<SmppPdu>> pending = new();
    private readonly ConcurrentDictionary<Task, byte> work = new();
    private readonly CancellationTokenSource closing = new();
    private uint bindCommand;
    private string systemId = "";
    private string? credential;
    private int sequence;

    public async Task RunAsync(CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, closing.Token);
        var token = linked.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var frame = await connection.ReadFrameAsync(token).ConfigureAwait(false);
                if (frame is null)
                {
                    return;
                }

                SmppPdu pdu;
                try
                {
                    pdu = SmppCodec.Decode(frame);
                }
                catch (SmppProtocolException e)
                {
                    var (commandId, seq) = SmppConnection.Peek(frame);
                    if (!SmppCommand.IsResponse(commandId))
                    {
                        await connection.WriteAsync(SmppPdu.Header(SmppCommand.GenericNack, seq, e.Status), token).ConfigureAwait(false);
                    }

                    continue;
                }

                if (SmppCommand.IsResponse(pdu.CommandId))
                {
                    if (pending.TryRemove(pdu.Sequence, out var waiter))
                    {
                        waiter.TrySetResult(pdu);
                    }

                    continue;
                }

                if (!await HandleAsync(pdu, token).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        finally
        {
            await closing.CancelAsync().ConfigureAwait(false);
            foreach (var (_, waiter) in pending)
            {
                waiter.TrySetCanceled(CancellationToken.None);
            }

            await Task.WhenAll(work.Keys).ConfigureAwait(false);
        }
    }

    /// <summary>Sends unbind (the SMSC ends the session); the ESME answers unbind_resp and the read loop ends.</summary>
    public async Task UnbindAsync(CancellationToken ct)
    {
        try
        {
            await connection.WriteAsync(SmppPdu.Header(SmppCommand.Unbind, NextSequence()), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await closing.CancelAsync().ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private bool Bound => bindCommand != 0;

    private bool CanSubmit => bindCommand is SmppCommand.BindTransmitter or SmppCommand.BindTransceiver;

    private bool CanReceive => bindCommand is SmppCommand.BindReceiver or SmppCommand.BindTransceiver;

    private uint NextSequence() => (uint)Interlocked.Increment(ref sequence) & 0x7FFFFFFF;

    /// <summary>Answers one request; false when the session ends.</summary>
    private async Task<bool> HandleAsync(SmppPdu pdu, CancellationToken ct)
    {
        switch (pdu.CommandId)
        {
            case SmppCommand.BindTransceiver or SmppCommand.BindTransmitter or SmppCommand.BindReceiver:
                await BindAsync(pdu, ct).ConfigureAwait(false);
                return true;
            case SmppCommand.EnquireLink:
                smsc.EnquireLinkAnswered();
                await connection.WriteAsync(SmppPdu.Header(SmppCommand.EnquireLinkResp, pdu.Sequence), ct).ConfigureAwait(false);
                return true;
            case SmppCommand.Unbind:
                await connection.WriteAsync(SmppPdu.Header(SmppCommand.UnbindResp, pdu.Sequence), ct).ConfigureAwait(false);
                return false;
            case SmppCommand.SubmitSm when !CanSubmit:
                await connection.WriteAsync(SmppPdu.Header(SmppCommand.SubmitSmResp, pdu.Sequence, SmppStatus.InvalidBindStatus), ct).ConfigureAwait(false);
                return true;
            case SmppCommand.SubmitSm:
                // Answered on its own task, so latency delays each response without serialising the ESME's window.
                Track(SubmitAsync(pdu, ct));
                return true;
            default:
                await connection.WriteAsync(SmppPdu.Header(SmppCommand.GenericNack, pdu.Sequence, SmppStatus.InvalidCommandId), ct).ConfigureAwait(false);
                return true;
        }
    }

    private async Task BindAsync(SmppPdu pdu, CancellationToken ct)
    {
        var response = pdu.CommandId | 0x80000000;
        var bind = pdu.Bind!;
        var options = smsc.Options;
        var status = Bound ? SmppStatus.AlreadyBound
            : options.SmppSystemId is { Length: > 0 } wantedId && !string.Equals(wantedId, bind.SystemId, StringComparison.Ordinal) ? SmppStatus.InvalidSystemId
            : options.SmppPassword is { Length: > 0 } wantedPassword && !FixedEquals(wantedPassword, bind.Password) ? SmppStatus.InvalidPassword
            : bind.SystemId.Length == 0 ? SmppStatus.InvalidSystemId
            : SmppStatus.Ok;
        await connection.WriteAsync(
            new SmppPdu(response, status, pdu.Sequence) { Id = status == SmppStatus.Ok ? SmppSimulator.SmscSystemId : null },
            ct).ConfigureAwait(false);
        if (status != SmppStatus.Ok)
        {
            return;
        }

        bindCommand = pdu.CommandId;
        systemId = bind.SystemId;
        credential = string.IsNullOrEmpty(bind.Password) ? null : SandboxMessage.CredentialOf(bind.Password);
        if (CanReceive)
        {
            Track(DeliverReceiptsAsync(ct));
        }
    }

    private async Task SubmitAsync(SmppPdu pdu, CancellationToken ct)
    {
        var current = smsc.CurrentSettings;
        if (current.LatencyMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(current.LatencyMs), smsc.Time, ct).ConfigureAwait(false);
        }

        await smsc.Outages.DelayAsync(systemId, smsc.Time, ct).ConfigureAwait(false);

        var (status, messageId) = Submit(pdu.Message!, current.RatePerSecond, current.FailureRate);
        await connection.WriteAsync(new SmppPdu(SmppCommand.SubmitSmResp, status, pdu.Sequence) { Id = messageId }, ct).ConfigureAwait(false);
    }

    private (uint Status, string? MessageId) Submit(SmppShortMessage m, int ratePerSecond, double failureRate)
    {
        var stats = smsc.Stats;
        if (smsc.Outages.IsOut(systemId))
        {
            // PUT /sandbox/outages/{system_id}: the SMSC is in trouble, as a real one says it.
            stats.Failed(SmppSimulator.ChannelName, systemId);
            return (SmppStatus.SystemError, null);
        }

        var rate = smsc.RateLimiter.TryAcquire("smpp:" + systemId, ratePerSecond);
        if (!rate.Allowed)
        {
            stats.RateLimited(SmppSimulator.ChannelName, systemId);
            return (SmppStatus.Throttled, null);
        }

        var digits = m.DestinationAddr.TrimStart('+');
        if (digits.Length is < 3 or > 15 || !digits.All(char.IsAsciiDigit) || digits.EndsWith(MagicRecipients.InvalidSmsNumber, StringComparison.Ordinal))
        {
            // Not a number, or the magic recipient of SPEC §6 that cannot exist.
            stats.Rejected(SmppSimulator.ChannelName, systemId);
            return (SmppStatus.InvalidDestinationAddress, null);
        }

        if (failureRate > 0 && Random.Shared.NextDouble() < failureRate)
        {
            stats.Failed(SmppSimulator.ChannelName, systemId);
            return (SmppStatus.SystemError, null);
        }

        var udhi = (m.EsmClass & SmppFlags.EsmUdhi) != 0;
        var body = m.ShortMessage.Length == 0 && m.Tlv(SmppTag.MessagePayload) is { } payload ? payload : m.ShortMessage;
        var (concat, userData) = SmsText.SplitUdh(body, udhi);
        var text = SmsText.Decode(m.DataCoding, userData);
        var messageId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var to = "+" + digits;
        var now = smsc.Time.GetUtcNow();
        var receipted = (m.RegisteredDelivery & 0x03) != 0;
        // Magic recipients: a concatenated message's receipts in reverse order (0051), and its second part
        // undeliverable (0052); sent together once the last part is in.
        var reversed = digits.EndsWith(MagicRecipients.SmppReceiptsReversed, StringComparison.Ordinal) || digits.EndsWith(MagicRecipients.SmppSecondPartUndelivered, StringComparison.Ordinal);
        if (concat is { Total: > 1 } c)
        {
            var key = string.Join('|', systemId, m.SourceAddr, digits, c.Reference, c.Total);
            if (smsc.AddPart(key, c, text, messageId) is { } parts)
            {
                smsc.Mailbox.Add(new SandboxMessage(SmppSimulator.ChannelName, to, string.Concat(parts.Select(static p => p.Text)), null, parts[0].Id, now, systemId) { Credential = credential });
                stats.Accepted(SmppSimulator.ChannelName, systemId);
                if (receipted && reversed)
                {
                    var failing = digits.EndsWith(MagicRecipients.SmppSecondPartUndelivered, StringComparison.Ordinal) ? 1 : -1;
                    smsc.ScheduleReceipts(systemId, [.. parts.Select((p, i) => Receipt(m, p.Id, p.Text, now, i == failing ? "UNDELIV" : "DELIVRD")).Reverse()]);
                }
            }

            if (receipted && !reversed)
            {
                smsc.ScheduleReceipt(systemId, Receipt(m, messageId, text, now, "DELIVRD"));
            }
        }
        else
        {
            smsc.Mailbox.Add(new SandboxMessage(SmppSimulator.ChannelName, to, text, null, messageId, now, systemId) { Credential = credential });
            stats.Accepted(SmppSimulator.ChannelName, systemId);
            if (receipted)
            {
                smsc.ScheduleReceipt(systemId, Receipt(m, messageId, text, now, "DELIVRD"));
            }
        }

        return (SmppStatus.Ok, messageId);
    }

    private SmppShortMessage Receipt(SmppShortMessage submitted, string messageId, string text, DateTimeOffset submittedAt, string stat)
    {
        // Magic recipient 0053: an SMSC that answers submit_sm with a hex id and writes the receipt with the same
        // number in decimal (the account needs receiptIdFormat "hex-submit-decimal-receipt").
        if (submitted.DestinationAddr.EndsWith(MagicRecipients.SmppReceiptIdDecimal, StringComparison.Ordinal))
        {
            messageId = ulong.Parse(messageId, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
        }

        var receiptText = SmppReceipts.Format(messageId, stat, stat == "DELIVRD" ? "000" : "001", submittedAt, smsc.Time.GetUtcNow(), 1, text);
        return new SmppShortMessage
        {
            SourceTon = submitted.DestTon,
            SourceNpi = submitted.DestNpi,
            SourceAddr = submitted.DestinationAddr,
            DestTon = submitted.SourceTon,
            DestNpi = submitted.SourceNpi,
            DestinationAddr = submitted.SourceAddr,
            EsmClass = SmppFlags.EsmDeliveryReceipt,
            DataCoding = SmppFlags.DataCodingDefault,
            ShortMessage = Encoding.ASCII.GetBytes(receiptText),
            Tlvs =
            [
                new SmppTlv(SmppTag.ReceiptedMessageId, [.. Encoding.ASCII.GetBytes(messageId), 0]),
                new SmppTlv(SmppTag.MessageState, [SmppReceipts.StateOf(stat)]),
            ],
        };
    }

    /// <summary>Hands queued receipts of this system_id to the ESME, one at a time; an unacknowledged one goes back.</summary>
    private async Task DeliverReceiptsAsync(CancellationToken ct)
    {
        var queue = smsc.Receipts(systemId);
        while (!ct.IsCancellationRequested)
        {
            PendingSmppReceipt receipt;
            try
            {
                receipt = await queue.Reader.ReadAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var seq = NextSequence();
            var waiter = new TaskCompletionSource<SmppPdu>(TaskCreationOptions.RunContinuationsAsynchronously);
            pending[seq] = waiter;
            SmppPdu? answer = null;
            try
            {
                await connection.WriteAsync(new SmppPdu(SmppCommand.DeliverSm, 0, seq) { Message = receipt.Receipt }, ct).ConfigureAwait(false);
                answer = await waiter.Task.WaitAsync(ReceiptAnswerTimeout, smsc.Time, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or TimeoutException)
            {
                // Not acknowledged: kept for the next session.
            }
            finally
            {
                pending.TryRemove(seq, out _);
            }

            if (answer is { CommandId: SmppCommand.DeliverSmResp, Status: SmppStatus.Ok })
            {
                smsc.ReceiptDelivered();
                continue;
            }

            queue.Writer.TryWrite(receipt);
            if (answer is null)
            {
                return;
            }

            try
            {
                // The ESME could not take it now (e.g. ESME_RX_T_APPN): try again a little later, not in a tight loop.
                await Task.Delay(TimeSpan.FromSeconds(1), smsc.Time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Track(Task task)
    {
        work.TryAdd(task, 0);
        _ = task.ContinueWith(
            t =>
            {
                work.TryRemove(t, out _);
                _ = t.Exception;
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private static bool FixedEquals(string expected, string given) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(given));
}
