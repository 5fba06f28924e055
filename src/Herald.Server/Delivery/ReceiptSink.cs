using Herald.Channels.Callbacks;
using Herald.Core.Providers;

namespace Herald.Server.Delivery;

/// <summary>
/// The one door receipts enter through, whatever carried them (an HTTP callback, an SMPP deliver_sm): the
/// <see cref="ReceiptProcessor"/>, vouched for by the batch's account. Receipts that may name one part of a multi-part
/// SMS are first gathered per attempt, from the parts <see cref="RecordPartsAsync"/> recorded when it was sent.
/// </summary>
public sealed class ReceiptSink(ReceiptProcessor receipts) : IReceiptSink
{
    public Task AcceptAsync(InboundBatch batch, CancellationToken ct) =>
        batch.MayNameParts
            ? receipts.ProcessWithPartsAsync(batch.Receipts, batch.Account.Id, ct)
            : receipts.ProcessAsync(batch.Receipts, batch.Account.Id, ct);

    public Task RecordPartsAsync(ProviderAccount account, Guid attemptId, IReadOnlyList<string> partIds, CancellationToken ct) =>
        receipts.RecordPartsAsync(attemptId, account.Id, partIds, ct);
}
