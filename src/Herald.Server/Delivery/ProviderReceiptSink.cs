using Herald.Channels;
using Herald.Channels.Sms.Smpp;
using Herald.Storage;

namespace Herald.Server.Delivery;

/// <summary>
/// Receipts that connectors receive on their own connections (SMPP deliver_sm) enter the same path as the HTTP
/// callbacks: the <see cref="ReceiptProcessor"/>, vouched for by the account whose session they came on.
/// </summary>
public sealed class ProviderReceiptSink(ReceiptProcessor receipts) : IProviderReceiptSink
{
    public Task AcceptAsync(ProviderAccount account, IReadOnlyList<ProviderReceipt> batch, CancellationToken ct) =>
        receipts.ProcessAsync(batch, account.Id, ct);
}
