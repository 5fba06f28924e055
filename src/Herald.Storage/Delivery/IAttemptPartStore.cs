using Herald.Core.Delivery;

namespace Herald.Storage;

/// <summary>One part of a multi-part SMS attempt (a concatenated message sent as several SMPP submit_sm, each with
/// its own SMSC message id and delivery receipt).</summary>
/// <param name="Index">0-based position of the part in the message.</param>
/// <param name="Count">How many parts the message has.</param>
/// <param name="State">Sent until the part's receipt arrives, then Delivered or Failed.</param>
/// <param name="ReceivedAt">When the part's final receipt arrived; null while none did.</param>
public sealed record AttemptPart(
    Guid AttemptId, int Index, int Count, Guid ProviderId, string ProviderMessageId, ReceiptState State,
    string? ErrorCode, string? Error, DateTimeOffset? ReceivedAt)
{
    /// <summary>The receipt's error text without the contacts vendors echo (<see cref="ErrorText"/>).</summary>
    public string? Error { get; init => field = ErrorText.Scrub(value); } = ErrorText.Scrub(Error);
}

/// <summary>Where a multi-part attempt stands after a part's receipt was recorded.</summary>
/// <param name="Parts">Every part of the attempt, by index.</param>
public sealed record PartsProgress(IReadOnlyList<AttemptPart> Parts)
{
    /// <summary>The first part's message id: the one the attempt itself carries.</summary>
    public string FirstMessageId => Parts[0].ProviderMessageId;

    /// <summary>The lowest-index part whose receipt says it failed, if any.</summary>
    public AttemptPart? FailedPart => Parts.FirstOrDefault(static p => p.State == ReceiptState.Failed);

    /// <summary>Whether every part was receipted delivered (or read).</summary>
    public bool AllDelivered => Parts.All(static p => p.State is ReceiptState.Delivered or ReceiptState.Read);

    /// <summary>Final: a part failed or every part is delivered; later part receipts change nothing.</summary>
    public bool IsFinal => FailedPart is not null || AllDelivered;

    /// <summary>
    /// The receipt the whole message has earned, for the attempt's own (first part's) message id: failed as soon as
    /// one part failed (naming the part and its error), delivered once every part is (at the last part's receipt
    /// time); null while parts are still without a receipt.
    /// </summary>
    public PendingReceipt? Outcome()
    {
        if (FailedPart is { } failed)
        {
            return new PendingReceipt(
                Parts[0].ProviderId, FirstMessageId, ReceiptState.Failed, failed.ErrorCode,
                $"part {failed.Index + 1} of {failed.Count}: {failed.Error ?? failed.ErrorCode ?? "failed"}",
                failed.ReceivedAt ?? Parts.Max(static p => p.ReceivedAt ?? DateTimeOffset.MinValue));
        }

        return AllDelivered
            ? new PendingReceipt(Parts[0].ProviderId, FirstMessageId, ReceiptState.Delivered, null, null, Parts.Max(static p => p.ReceivedAt!.Value))
            : null;
    }

    /// <summary>The progress with <paramref name="receipt"/> applied to part <paramref name="index"/>, unless the
    /// message is final already (then unchanged) or the receipt says only "sent".</summary>
    public PartsProgress With(int index, PendingReceipt receipt)
    {
        if (IsFinal || receipt.State == ReceiptState.Sent)
        {
            return this;
        }

        var parts = Parts.ToArray();
        parts[index] = parts[index] with
        {
            State = receipt.State,
            ErrorCode = receipt.State == ReceiptState.Failed ? receipt.ErrorCode : null,
            Error = receipt.State == ReceiptState.Failed ? receipt.Error : null,
            ReceivedAt = receipt.ReceivedAt,
        };
        return new PartsProgress(parts);
    }
}

/// <summary>
/// The parts of multi-part SMS attempts (issue #3): a long SMS over SMPP is several messages at the SMSC, each with
/// its own id and receipt, and the attempt counts as delivered only when every part is. Stored durably so that a
/// part's receipt is recognised after a restart or on another node. Lookup by a part's message id is indexed.
/// Single-part messages have no rows. Every backend implements it and passes the same compliance suite.
/// </summary>
public interface IAttemptPartStore
{
    /// <summary>
    /// Records the parts of an attempt, in order (index 0 = the attempt's own provider message id); recording the
    /// same attempt again changes nothing. Receipts of <paramref name="providerId"/> for these ids that arrived first (kept as pending receipts) are
    /// removed and returned, for the caller to apply with <see cref="ApplyReceiptAsync"/>.
    /// </summary>
    Task<IReadOnlyList<PendingReceipt>> RecordAsync(Guid attemptId, Guid providerId, IReadOnlyList<string> messageIds, DateTimeOffset now, CancellationToken ct);

    /// <summary>
    /// Applies a receipt to the part with its message id of the receipt's account (<see cref="PendingReceipt.ProviderId"/>;
    /// the newest such part) and returns the attempt's progress; null when no part of that account has that id. Once the
    /// message is final (<see cref="PartsProgress.IsFinal"/>), receipts leave the parts as they are. Concurrent
    /// receipts of one attempt are serialised, so the one completing it always sees the others.
    /// </summary>
    Task<PartsProgress?> ApplyReceiptAsync(PendingReceipt receipt, CancellationToken ct);

    /// <summary>The parts of an attempt by index; empty for a single-part or unknown attempt.</summary>
    Task<IReadOnlyList<AttemptPart>> ListAsync(Guid attemptId, CancellationToken ct);
}
