using Herald.Channels;
using Herald.Channels.Sms.Smpp;
using Herald.Core.Providers;

namespace Herald.Server.Delivery;

/// <summary>
/// Receipts that connectors receive on their own connections (SMPP deliver_sm) enter the same path as the HTTP
/// callbacks: the <see cref="ReceiptProcessor"/>, vouched for by the account whose session they came on. Their
/// message ids may be parts of a multi-part SMS, recorded by <see cref="RecordPartsAsync"/> when it was sent.
/// </summary>
public sealed class ProviderReceiptSink(ReceiptProcessor receipts) : IProviderReceiptSink
{
    public Task AcceptAsync(ProviderAccount account, IReadOnlyList<ProviderReceipt> batch, CancellationToken ct) =>
        receipts.ProcessWithPartsAsync(batch, account.Id, ct);

    public Task RecordPartsAsync(ProviderAccount account, Guid attemptId, IReadOnlyList<string> partIds, CancellationToken ct) =>
        receipts.RecordPartsAsync(attemptId, account.Id, partIds, ct);
}
