using Herald.Core.Providers;

namespace Herald.Channels.Sms.Smpp;

/// <summary>
/// Where receipts that arrive on a connector's own connection (not as an HTTP callback) go: an SMPP deliver_sm
/// receipt, for example. The Server implements it over its receipt processor. A call that throws tells the
/// connector Herald could not take the receipts now (the SMPP client then answers ESME_RX_T_APPN so the SMSC
/// delivers them again).
/// </summary>
public interface IProviderReceiptSink
{
    Task AcceptAsync(ProviderAccount account, IReadOnlyList<ProviderReceipt> receipts, CancellationToken ct);

    /// <summary>
    /// Records durably the SMSC message ids of every part of a concatenated message (index 0 first: the id the
    /// attempt carries), so that each part's receipt counts, also after a restart or on another node: the attempt is
    /// delivered when every part is, and fails when one part does. Called once all parts were accepted, before the
    /// send's outcome is returned. A call that throws leaves the attempt to its first part's receipt.
    /// </summary>
    Task RecordPartsAsync(ProviderAccount account, Guid attemptId, IReadOnlyList<string> partIds, CancellationToken ct);
}

/// <summary>The sink when the host registered none: refuses, so the SMSC keeps the receipts for a later bind.</summary>
internal sealed class NoReceiptSink : IProviderReceiptSink
{
    public Task AcceptAsync(ProviderAccount account, IReadOnlyList<ProviderReceipt> receipts, CancellationToken ct) =>
        Task.FromException(new InvalidOperationException("no IProviderReceiptSink is registered"));

    public Task RecordPartsAsync(ProviderAccount account, Guid attemptId, IReadOnlyList<string> partIds, CancellationToken ct) =>
        Task.FromException(new InvalidOperationException("no IProviderReceiptSink is registered"));
}
