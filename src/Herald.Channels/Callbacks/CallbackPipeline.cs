using System.Buffers;
using Herald.Channels.Providers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Callbacks;

/// <summary>
/// What every channel's callbacks share, in order: the handler of the kind (unknown: 404), the account the path names
/// (none of that kind among the enabled accounts: 404), <see cref="IChannelCallbackHandler.Admit"/>, the body read with
/// the handler's cap enforced while it streams in (413 as soon as it is crossed, never a buffer of whatever a stranger
/// sends), <see cref="IChannelCallbackHandler.Read"/>, and each batch through the one <see cref="IReceiptSink"/> (its
/// customers' messages through the one <see cref="IInboundMessageSink"/>).
/// The host maps the outcome to its HTTP answer (problem+json for refusals).
/// </summary>
public sealed partial class CallbackPipeline(
    IEnumerable<IChannelCallbackHandler> handlers,
    ProviderDirectory directory,
    TimeProvider time,
    ILogger<CallbackPipeline> logger,
    IReceiptSink? sink = null,
    IInboundMessageSink? inbound = null)
{
    private readonly IReceiptSink _sink = sink ?? new NoReceiptSink();
    private readonly Dictionary<string, IChannelCallbackHandler> _handlers = handlers.ToDictionary(static h => h.Kind, StringComparer.Ordinal);

    /// <summary>The generic route, <c>/callbacks/{kind}/{accountId}</c>, and an older path that names the account.</summary>
    public Task<CallbackOutcome> RunAsync(string kind, Guid accountId, HttpRequest request, CancellationToken ct) =>
        _handlers.TryGetValue(kind, out var handler) && directory.Find(accountId) is { } account && account.Kind == kind
            ? RunAsync(handler, new CallbackRequest(request, account), ct)
            : Task.FromResult(CallbackOutcome.NotFound);

    /// <summary>An older path that does not name the account: the handler matches it (Admit or Read).</summary>
    public Task<CallbackOutcome> RunAsync(string kind, HttpRequest request, CancellationToken ct) =>
        _handlers.TryGetValue(kind, out var handler)
            ? RunAsync(handler, new CallbackRequest(request, null), ct)
            : Task.FromResult(CallbackOutcome.NotFound);

    private async Task<CallbackOutcome> RunAsync(IChannelCallbackHandler handler, CallbackRequest request, CancellationToken ct)
    {
        if (handler.Admit(request) is { } refused)
        {
            return Refuse(handler, refused);
        }

        ReadOnlyMemory<byte> body = default;
        if (!HttpMethods.IsGet(request.Http.Method))
        {
            if (await ReadBoundedAsync(request.Http, handler.MaxBodyBytes) is not { } read)
            {
                return CallbackOutcome.TooLarge(handler.MaxBodyBytes);
            }

            body = read;
        }

        var result = handler.Read(request, body.Span, time.GetUtcNow());
        if (result.Refusal is { } refusal)
        {
            return Refuse(handler, refusal);
        }

        foreach (var batch in result.Batches.Where(static b => b.Receipts.Count > 0))
        {
            await _sink.AcceptAsync(batch, ct).ConfigureAwait(false);
        }

        // Customers' messages (issue #16): one door for every channel; without a host sink they are not taken.
        if (inbound is not null)
        {
            foreach (var batch in result.Batches.Where(static b => b.Messages.Count > 0))
            {
                await inbound.AcceptAsync(batch.Account, batch.Messages, ct).ConfigureAwait(false);
            }
        }

        return new CallbackOutcome(result.Reply, result.Text, null, 0, Taken: true);
    }

    private CallbackOutcome Refuse(IChannelCallbackHandler handler, CallbackRefusal refusal)
    {
        LogRejected(logger, handler.Kind, refusal.LogReason);
        return new CallbackOutcome(CallbackReply.Ok, null, refusal, 0, Taken: false);
    }

    /// <summary>The whole body up to <paramref name="maxBytes"/>; null as soon as it is longer (or says it is).</summary>
    private static async Task<ReadOnlyMemory<byte>?> ReadBoundedAsync(HttpRequest request, int maxBytes)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and var length ? (int)length : 4096);
        while (true)
        {
            var memory = buffer.GetMemory(4096);
            var read = await request.Body.ReadAsync(memory, request.HttpContext.RequestAborted).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer.WrittenMemory;
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes)
            {
                return null;
            }
        }
    }

    [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Provider callback ({Kind}) rejected: {Reason}")]
    private static partial void LogRejected(ILogger logger, string kind, string reason);
}

/// <summary>How a callback ended, for the host to answer.</summary>
/// <param name="Refusal">Set when refused (problem+json with its status).</param>
/// <param name="TooLargeLimit">Non-zero when the body crossed this cap (413).</param>
/// <param name="Taken">The request was verified and what it carried went through the sink.</param>
public sealed record CallbackOutcome(CallbackReply Reply, string? Text, CallbackRefusal? Refusal, int TooLargeLimit, bool Taken)
{
    /// <summary>No handler for the kind, or no enabled account of that kind with the id.</summary>
    public static CallbackOutcome NotFound { get; } = new(CallbackReply.Ok, null, null, 0, false);

    public bool IsNotFound => ReferenceEquals(this, NotFound);

    public static CallbackOutcome TooLarge(int limit) => new(CallbackReply.Ok, null, null, limit, false);
}
