using Herald.Storage;

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
}

/// <summary>The sink when the host registered none: refuses, so the SMSC keeps the receipts for a later bind.</summary>
internal sealed class NoReceiptSink : IProviderReceiptSink
{
    public Task AcceptAsync(ProviderAccount account, IReadOnlyList<ProviderReceipt> receipts, CancellationToken ct) =>
        Task.FromException(new InvalidOperationException("no IProviderReceiptSink is registered"));
}
