using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Threading.Channels;
using Herald.Channels.Sms.Smpp;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Tcp;
using Herald.Sandbox.Throttling;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox.Smpp;

/// <summary>A delivery receipt waiting for a bound session of its system_id.</summary>
internal sealed record PendingSmppReceipt(SmppShortMessage Receipt);

/// <summary>
/// An SMPP 3.4 SMSC on 127.0.0.1, so any ESME (Herald's client, Net::SMPP, a aggregator test tool) can bind to it.
/// bind_transceiver/transmitter/receiver (any credentials unless <see cref="SandboxOptions.SmppSystemId"/> /
/// <see cref="SandboxOptions.SmppPassword"/> are set), submit_sm, enquire_link, unbind; everything else gets
/// generic_nack ESME_RINVCMDID. An accepted submit_sm goes to the <see cref="SandboxMailbox"/> as channel
/// <c>sms</c> (to = the destination as E.164 with "+"); the parts of a concatenated message (UDH 8- or 16-bit
/// reference) are reassembled into one mailbox message. Magic recipient: a number ending 0004 is refused with
/// ESME_RINVDSTADR. Shaping: latency delays each submit_sm_resp, the rate limit (per system_id) answers
/// ESME_RTHROTTLED, the failure rate ESME_RSYSERR. With registered_delivery, a receipt (the classic text plus the
/// receipted_message_id and message_state TLVs) follows after receiptDelayMs for each part, as a deliver_sm on a
/// bound receiver or transceiver session of the same system_id; receipts wait for such a session (e.g. after the
/// ESME reconnects) like a real SMSC's store. Magic recipients for concatenated messages (real SMSCs receipt parts
/// independently, in any order): a number ending 0051 gets its parts' receipts in reverse order once the last part
/// is in; one ending 0052 likewise, with the second part's receipt UNDELIV (err:001).
/// </summary>
public sealed partial class SmppSimulator(
    IOptions<SandboxOptions> options,
    SandboxSettings settings,
    SandboxMailbox mailbox,
    SandboxRateLimiter rateLimiter,
    SandboxStats stats,
    Outages.SandboxOutages outages,
    TimeProvider time,
    ILogger<SmppSimulator> logger) : IHostedService, IAsyncDisposable
{
    /// <summary>Channel name used in the mailbox and stats.</summary>
    public const string ChannelName = "sms";

    /// <summary>The system_id the simulator answers binds with.</summary>
    public const string SmscSystemId = "HeraldSandbox";

    private readonly ConcurrentDictionary<long, SmppSimulatorSession> open = new();
    private readonly ConcurrentDictionary<string, Channel<PendingSmppReceipt>> receipts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcatenatedMessage> partial = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource stopping = new();
    private LoopbackListener? tcp;

    /// <summary>The port the simulator listens on (127.0.0.1), or null when disabled or not started.</summary>
    public int? Port => tcp?.Port;

    /// <summary>The host to point SMPP clients at.</summary>
    public static string Host => LoopbackListener.Host;

    /// <summary>TCP connections accepted since start.</summary>
    public long ConnectionsAccepted => tcp?.ConnectionsAccepted ?? 0;

    /// <summary>Sessions open right now.</summary>
    public int ActiveConnections => tcp?.ActiveConnections ?? 0;

    /// <summary>enquire_link requests answered since start.</summary>
    public long EnquireLinksAnswered => Interlocked.Read(ref enquireLinks);

    private long enquireLinks;

    /// <summary>Receipts acknowledged with deliver_sm_resp ESME_ROK since start.</summary>
    public long ReceiptsDelivered => Interlocked.Read(ref receiptsDelivered);

    /// <summary>Receipts dropped because too many were waiting for a session.</summary>
    public long ReceiptsDropped => Interlocked.Read(ref receiptsDropped);

    private long receiptsDelivered;
    private long receiptsDropped;

    internal void ReceiptDelivered() => Interlocked.Increment(ref receiptsDelivered);

    /// <summary>Binds the listener (so <see cref="Port"/> is known once the host has started) and starts accepting.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.Enabled || o.SmppPort is null or < 0 || tcp is not null)
        {
            return Task.CompletedTask;
        }

        tcp = new LoopbackListener("SMPP", RunSessionAsync, logger, static e => e is SmppProtocolException);
        try
        {
            tcp.Start(o.SmppPort.Value);
        }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
        {
            tcp = null;
            throw new Tcp.SandboxPortInUseException("Herald:Sandbox:SmppPort", o.SmppPort.Value, e);
        }
        return Task.CompletedTask;
    }

    /// <summary>Stops accepting and closes open sessions (without unbind: like an SMSC that goes away).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!stopping.IsCancellationRequested)
        {
            await stopping.CancelAsync().ConfigureAwait(false);
        }

        if (tcp is not null)
        {
            await tcp.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (tcp is not null)
        {
            await tcp.DisposeAsync().ConfigureAwait(false);
        }

        stopping.Dispose();
    }

    /// <summary>Sends unbind on every open session (an SMSC going down for maintenance).</summary>
    public async Task UnbindAllAsync(CancellationToken ct)
    {
        foreach (var session in open.Values)
        {
            await session.UnbindAsync(ct).ConfigureAwait(false);
        }
    }

    private async Task RunSessionAsync(Socket socket, long id, CancellationToken ct)
    {
        socket.NoDelay = true;
        var session = new SmppSimulatorSession(this, new NetworkStream(socket, ownsSocket: true));
        open[id] = session;
        try
        {
            await session.RunAsync(ct).ConfigureAwait(false);
        }
        catch (SmppProtocolException e)
        {
            LogBadFrame(logger, e.Message);
            throw;
        }
        finally
        {
            open.TryRemove(id, out _);
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal SandboxOptions Options => options.Value;

    internal SandboxSettingsSnapshot CurrentSettings => settings.Current;

    internal TimeProvider Time => time;

    internal SandboxStats Stats => stats;

    /// <summary>Accounts (system_ids) whose submit_sm are answered ESME_RSYSERR while they are out.</summary>
    internal Outages.SandboxOutages Outages => outages;

    internal SandboxRateLimiter RateLimiter => rateLimiter;

    internal SandboxMailbox Mailbox => mailbox;

    internal ILogger Logger => logger;

    internal void EnquireLinkAnswered() => Interlocked.Increment(ref enquireLinks);

    /// <summary>The receipt queue of a system_id (receipts wait here for a bound receiving session).</summary>
    internal Channel<PendingSmppReceipt> Receipts(string systemId) =>
        receipts.GetOrAdd(systemId, _ => Channel.CreateBounded<PendingSmppReceipt>(new BoundedChannelOptions(options.Value.MaxPendingWebhookStatuses)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
        }));

    /// <summary>Queues a receipt after the current receipt delay.</summary>
    internal void ScheduleReceipt(string systemId, SmppShortMessage receipt) => ScheduleReceipts(systemId, [receipt]);

    /// <summary>Queues receipts after the current receipt delay, in the given order.</summary>
    internal void ScheduleReceipts(string systemId, IReadOnlyList<SmppShortMessage> batch)
    {
        var delay = settings.Current.ReceiptDelayMs;
        _ = Task.Run(async () =>
        {
            try
            {
                if (delay > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(delay), time, stopping.Token).ConfigureAwait(false);
                }

                foreach (var receipt in batch)
                {
                    if (!Receipts(systemId).Writer.TryWrite(new PendingSmppReceipt(receipt)))
                    {
                        Interlocked.Increment(ref receiptsDropped);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        });
    }

    /// <summary>
    /// Adds one part of a concatenated message; returns every part (text and message id, in order) when it was the
    /// last part missing, else null.
    /// </summary>
    internal IReadOnlyList<(string Text, string Id)>? AddPart(string key, SmsConcatenation concat, string text, string messageId)
    {
        var now = time.GetUtcNow();
        if (partial.Count > 1000)
        {
            // Parts that never completed within an hour are forgotten, as an SMSC's reassembly timer would.
            foreach (var (staleKey, stale) in partial)
            {
                if (now - stale.Started > TimeSpan.FromHours(1))
                {
                    partial.TryRemove(staleKey, out _);
                }
            }
        }

        var message = partial.GetOrAdd(key, _ => new ConcatenatedMessage(concat.Total, now));
        lock (message)
        {
            if (message.Parts.Length != concat.Total || concat.Sequence < 1 || concat.Sequence > concat.Total)
            {
                return null;
            }

            message.Parts[concat.Sequence - 1] = (text, messageId);
            if (message.Parts.Any(static p => p is null))
            {
                return null;
            }

            partial.TryRemove(key, out _);
            return [.. message.Parts.Select(static p => p!.Value)];
        }
    }

    private sealed class ConcatenatedMessage(int total, DateTimeOffset started)
    {
        public (string Text, string Id)?[] Parts { get; } = new (string, string)?[total];

        public DateTimeOffset Started { get; } = started;
    }

    [LoggerMessage(EventId = 6403, Level = LogLevel.Information, Message = "Sandbox SMPP session closed on an unframeable PDU: {Reason}")]
    private static partial void LogBadFrame(ILogger logger, string reason);
}
