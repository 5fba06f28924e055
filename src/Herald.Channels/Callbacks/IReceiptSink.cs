using Herald.Core.Providers;

namespace Herald.Channels.Callbacks;

/// <summary>
/// What one provider request or session event brought in, vouched for by one account (whose signature, token or bind
/// it came through). Today receipts; replies and customer messages (issue #16) will join them here.
/// </summary>
/// <param name="Account">The account that vouched for it: receipts only ever reach that account's attempts.</param>
public sealed record InboundBatch(ProviderAccount Account, IReadOnlyList<ProviderReceipt> Receipts)
{
    /// <summary>The receipts may name one part of a multi-part message (SMPP: one receipt per submit_sm), so they are
    /// gathered per attempt (see <see cref="IReceiptSink.RecordPartsAsync"/>) before they reach it.</summary>
    public bool MayNameParts { get; init; }
}

/// <summary>
/// The one door receipts enter Herald through, whatever carried them: an HTTP callback (the generic
/// <c>/callbacks/{kind}/{accountId}</c> route) or a connector's own connection (an SMPP deliver_sm). The host
/// implements it once over its receipt processor. A call that throws tells the caller Herald could not take the
/// receipts now (the SMPP client then answers ESME_RX_T_APPN so the SMSC delivers them again).
/// </summary>
public interface IReceiptSink
{
    Task AcceptAsync(InboundBatch batch, CancellationToken ct);

    /// <summary>
    /// Records durably the SMSC message ids of every part of a concatenated message (index 0 first: the id the
    /// attempt carries), so that each part's receipt counts, also after a restart or on another node: the attempt is
    /// delivered when every part is, and fails when one part does. Called once all parts were accepted, before the
    /// send's outcome is returned. A call that throws leaves the attempt to its first part's receipt.
    /// </summary>
    Task RecordPartsAsync(ProviderAccount account, Guid attemptId, IReadOnlyList<string> partIds, CancellationToken ct);
}

/// <summary>The sink when the host registered none: refuses, so the SMSC keeps the receipts for a later bind.</summary>
internal sealed class NoReceiptSink : IReceiptSink
{
    public Task AcceptAsync(InboundBatch batch, CancellationToken ct) =>
        Task.FromException(new InvalidOperationException("no IReceiptSink is registered"));

    public Task RecordPartsAsync(ProviderAccount account, Guid attemptId, IReadOnlyList<string> partIds, CancellationToken ct) =>
        Task.FromException(new InvalidOperationException("no IReceiptSink is registered"));
}
