using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Herald.Channels.Sms.Smpp;
using Herald.Core.Delivery;
using Herald.Core.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Channels.Tests.Smpp;

/// <summary>What the scripted SMSC answers a submit_sm with: submit_sm_resp with this command_status, or
/// generic_nack with it.</summary>
public sealed record SmppAnswer(uint CommandStatus, bool GenericNack = false)
{
    public override string ToString() => (GenericNack ? "generic_nack " : "submit_sm_resp ") + SmppStatus.Name(CommandStatus);
}

/// <summary>
/// The compliance suite for the SMPP connector. The peer is <see cref="ScriptedSmsc"/>: a real SMPP 3.4 server on a
/// loopback socket, built on Herald's codec, that binds every transceiver and answers each submit_sm as the test says
/// (ESME_ROK with a message_id, any command_status, generic_nack, or nothing at all). SMPP has no retry-after:
/// ESME_RTHROTTLED carries the connector's own 1 s pause. The connector's response timeout is the account's
/// <c>responseTimeoutSeconds</c>, so the account follows the <c>Herald:Channels:SendTimeout</c> the suite sets.
/// </summary>
public sealed class SmppConnectorComplianceTests : ConnectorComplianceTests<SmppSmsConnector, SmppAnswer>
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 23, 0, 0, TimeSpan.Zero);

    // One account id per test: the same settings reuse the same bound session.
    private readonly Guid _accountId = Guid.NewGuid();
    private ScriptedSmsc _smsc = null!;
    private int _responseTimeoutSeconds = 30;

    protected override SendOutcomeKind SuccessKind => SendOutcomeKind.Accepted;

    protected override string Recipient => "+4915112345678";

    protected override IReadOnlyList<ProviderAnswerCase<SmppAnswer>> AnswerTable =>
    [
        new("invalid destination", new(SmppStatus.InvalidDestinationAddress), SendOutcomeKind.PermanentFailure, "ESME_RINVDSTADR"),
        new("invalid message length", new(SmppStatus.InvalidMessageLength), SendOutcomeKind.PermanentFailure, "ESME_RINVMSGLEN"),
        new("permanent app error", new(SmppStatus.PermanentAppError), SendOutcomeKind.PermanentFailure, "ESME_RX_P_APPN"),
        new("rejected app error", new(SmppStatus.RejectedAppError), SendOutcomeKind.PermanentFailure, "ESME_RX_R_APPN"),
        new("invalid source address (account fault)", new(SmppStatus.InvalidSourceAddress), SendOutcomeKind.TransientFailure, "ESME_RINVSRCADR", TimeSpan.FromSeconds(30)),
        new("invalid password (account fault)", new(SmppStatus.InvalidPassword), SendOutcomeKind.TransientFailure, "ESME_RINVPASWD", TimeSpan.FromSeconds(30)),
        new("message queue full", new(SmppStatus.MessageQueueFull), SendOutcomeKind.TransientFailure, "ESME_RMSGQFUL", TimeSpan.FromSeconds(10)),
        new("system error", new(SmppStatus.SystemError), SendOutcomeKind.TransientFailure, "ESME_RSYSERR"),
        new("submit failed", new(SmppStatus.SubmitFailed), SendOutcomeKind.TransientFailure, "ESME_RSUBMITFAIL"),
        new("temporary app error", new(SmppStatus.TemporaryAppError), SendOutcomeKind.TransientFailure, "ESME_RX_T_APPN"),
        new("unknown status", new(0x00000400), SendOutcomeKind.TransientFailure, "0x00000400"),
        new("generic_nack", new(SmppStatus.InvalidCommandId, GenericNack: true), SendOutcomeKind.TransientFailure, "generic_nack"),
    ];

    // SMPP has no retry-after: the connector's own pause for ESME_RTHROTTLED.
    protected override (SmppAnswer Answer, TimeSpan? RetryAfter) RateLimitSignal => (new SmppAnswer(SmppStatus.Throttled), TimeSpan.FromSeconds(1));

    protected override bool HasReceipts => true;

    protected override IReadOnlyList<ReceiptCase> ReceiptSamples =>
    [
        new("classic receipt text, delivered",
            () => Receipts(DeliverSm(SmppReceipts.Format("7f3a9c01", "DELIVRD", "000", At, At, 1, "Card *1234: 25.00 EUR"))),
            [new ProviderReceipt("7f3a9c01", ReceiptState.Delivered, At)]),
        new("receipt TLVs win over the text, undeliverable",
            () => Receipts(DeliverSm("id:999 stat:DELIVRD err:001 text:x", new SmppTlv(SmppTag.ReceiptedMessageId, [.. "a1b2c3"u8, 0]), new SmppTlv(SmppTag.MessageState, [SmppMessageState.Undeliverable]))),
            [new ProviderReceipt("a1b2c3", ReceiptState.Failed, At, "UNDELIV:001", "SMSC receipt stat:UNDELIV err:001")]),
        new("expired without a network error",
            () => Receipts(DeliverSm(SmppReceipts.Format("m-2", "EXPIRED", "000", At, At, 1, ""))),
            [new ProviderReceipt("m-2", ReceiptState.Failed, At, "EXPIRED", "SMSC receipt stat:EXPIRED err:000")]),
        new("intermediate state is not final",
            () => Receipts(DeliverSm(SmppReceipts.Format("m-3", "ENROUTE", "000", At, At, 1, ""))),
            []),
        new("mobile-originated message is no receipt",
            () => Receipts(DeliverSm("id:m-4 stat:DELIVRD", esmClass: 0)),
            []),
    ];

    protected override async ValueTask StartPeerAsync() => _smsc = await ScriptedSmsc.StartAsync();

    protected override ValueTask StopPeerAsync() => _smsc.DisposeAsync();

    /// <summary>The connectors; SMPP's response timeout is the account's, so the account follows SendTimeout.</summary>
    protected override ServiceProvider CreateServices(params (string Key, string Value)[] settings)
    {
        foreach (var (key, value) in settings)
        {
            if (key == "Herald:Channels:SendTimeout")
            {
                _responseTimeoutSeconds = Math.Max(1, (int)Math.Ceiling(TimeSpan.Parse(value, CultureInfo.InvariantCulture).TotalSeconds));
            }
        }

        return base.CreateServices(settings);
    }

    protected override ProviderAccount PeerAccount() => Account(_smsc.Port);

    protected override ProviderAccount UnreachableAccount() => Account(Herald.Testing.ClosedPort.Reserve()) with { Id = Guid.NewGuid() };

    protected override void PeerAccepts() => _smsc.Accept();

    protected override Task PeerHangs() => _smsc.Hang();

    protected override string PeerAnswers(SmppAnswer answer)
    {
        _smsc.Answer(answer);
        return Recipient;
    }

    [Fact]
    public async Task ScriptedSmsc_GetsTheConnectorsSubmitSm()
    {
        PeerAccepts();

        var outcome = await Connector.SendAsync(TestHost.Message("+49 151 1234-5678", "Card *1234"), PeerAccount(), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        var submit = Assert.Single(_smsc.Submits);
        Assert.Equal(("4915112345678", "BANK", "Card *1234"), (submit.DestinationAddr, submit.SourceAddr, Encoding.Latin1.GetString(submit.ShortMessage)));
        Assert.Equal(outcome.ProviderMessageId, _smsc.LastMessageId);
    }

    private ProviderAccount Account(int port) =>
        SmppTestKit.Account(port, extra: new { responseTimeoutSeconds = _responseTimeoutSeconds }) with { Id = _accountId };

    private static SmppShortMessage DeliverSm(string text, params SmppTlv[] tlvs) => DeliverSm(text, SmppFlags.EsmDeliveryReceipt, tlvs);

    private static SmppShortMessage DeliverSm(string text, byte esmClass, params SmppTlv[] tlvs) => new()
    {
        SourceTon = 1,
        SourceNpi = 1,
        SourceAddr = "4915112345678",
        DestinationAddr = "BANK",
        EsmClass = esmClass,
        DataCoding = SmppFlags.DataCodingDefault,
        ShortMessage = Encoding.Latin1.GetBytes(text),
        Tlvs = tlvs,
    };

    /// <summary>The deliver_sm as it comes off the wire (encoded, then decoded by the codec), made into receipts the
    /// way the session's deliver_sm handler does.</summary>
    private static IReadOnlyList<ProviderReceipt> Receipts(SmppShortMessage message)
    {
        var pdu = SmppCodec.Decode(SmppCodec.Encode(new SmppPdu(SmppCommand.DeliverSm, 0, 17) { Message = message }));
        Assert.Equal(SmppCommand.DeliverSm, pdu.CommandId);
        return SmppReceipts.Parse(pdu.Message!)?.ToProviderReceipt(At) is { } receipt ? [receipt] : [];
    }
}

/// <summary>
/// A scripted SMSC on loopback: binds every transceiver, answers enquire_link and unbind, and answers each submit_sm
/// as scripted (accept, a command_status, generic_nack, or never).
/// </summary>
public sealed class ScriptedSmsc : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Lock _gate = new();
    private readonly List<SmppShortMessage> _submits = [];
    private SmppAnswer? _answer;
    private TaskCompletionSource? _hung;
    private Task _accept = Task.CompletedTask;
    private int _ids;

    private ScriptedSmsc()
    {
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public IReadOnlyList<SmppShortMessage> Submits
    {
        get
        {
            lock (_gate)
            {
                return [.. _submits];
            }
        }
    }

    public string? LastMessageId { get; private set; }

    public static Task<ScriptedSmsc> StartAsync()
    {
        var smsc = new ScriptedSmsc();
        smsc._listener.Start();
        smsc._accept = smsc.AcceptLoopAsync();
        return Task.FromResult(smsc);
    }

    /// <summary>Answer submit_sm with ESME_ROK and a fresh message_id.</summary>
    public void Accept() => Script(null, null);

    /// <summary>Answer submit_sm with this status (or generic_nack).</summary>
    public void Answer(SmppAnswer answer) => Script(answer, null);

    /// <summary>Take submit_sm and never answer; completes when one has arrived.</summary>
    public Task Hang()
    {
        var hung = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Script(null, hung);
        return hung.Task;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accept;
        Task[] connections;
        lock (_gate)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections);
        _stop.Dispose();
    }

    private void Script(SmppAnswer? answer, TaskCompletionSource? hung)
    {
        lock (_gate)
        {
            _answer = answer;
            _hung = hung;
        }
    }

    private async Task AcceptLoopAsync()
    {
        await Task.Yield();
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_gate)
            {
                _connections.Add(ServeAsync(client));
            }
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        await Task.Yield();
        using (client)
        {
            await using var connection = new SmppConnection(client.GetStream());
            try
            {
                while (await connection.ReadFrameAsync(_stop.Token) is { } frame)
                {
                    var pdu = SmppCodec.Decode(frame);
                    var reply = Reply(pdu);
                    if (reply is not null)
                    {
                        await connection.WriteAsync(reply, _stop.Token);
                    }

                    if (pdu.CommandId == SmppCommand.Unbind)
                    {
                        return;
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException or EndOfStreamException)
            {
                // The client went away or the SMSC stops.
            }
        }
    }

    private SmppPdu? Reply(SmppPdu pdu)
    {
        switch (pdu.CommandId)
        {
            case SmppCommand.BindTransceiver:
                return new SmppPdu(SmppCommand.BindTransceiverResp, SmppStatus.Ok, pdu.Sequence) { Id = "SCRIPTED" };
            case SmppCommand.EnquireLink:
                return SmppPdu.Header(SmppCommand.EnquireLinkResp, pdu.Sequence);
            case SmppCommand.Unbind:
                return SmppPdu.Header(SmppCommand.UnbindResp, pdu.Sequence);
            case SmppCommand.SubmitSm:
                break;
            default:
                return SmppCommand.IsResponse(pdu.CommandId) ? null : SmppPdu.Header(SmppCommand.GenericNack, pdu.Sequence, SmppStatus.InvalidCommandId);
        }

        lock (_gate)
        {
            _submits.Add(pdu.Message!);
            if (_hung is { } hung)
            {
                hung.TrySetResult();
                return null;
            }

            if (_answer is { } answer)
            {
                return SmppPdu.Header(answer.GenericNack ? SmppCommand.GenericNack : SmppCommand.SubmitSmResp, pdu.Sequence, answer.CommandStatus);
            }

            LastMessageId = "smsc-" + (++_ids).ToString("x8", CultureInfo.InvariantCulture);
            return new SmppPdu(SmppCommand.SubmitSmResp, SmppStatus.Ok, pdu.Sequence) { Id = LastMessageId };
        }
    }
}
