using Herald.Channels.Callbacks;
using Herald.Channels.Providers;
using Herald.Ingest;
using Herald.Server.Notifications;

namespace Herald.Server.Callbacks;

/// <summary>
/// Provider callbacks (SPEC §3): receipts come in here, on one route for every channel,
/// <c>/callbacks/{kind}/{accountId}</c>, served by the channel's <see cref="IChannelCallbackHandler"/>; each handler's
/// older paths (<c>/callbacks/whatsapp</c>, <c>/callbacks/sms/{accountId}</c>, …) are kept as aliases. Requests are
/// unauthenticated until their signature or token is checked, and a signature covers the body, so each body is read
/// with the handler's cap enforced while it streams in (<see cref="RequestBody.ReadAsync"/>): a 413 problem as soon as
/// the cap is crossed, never a buffer of whatever a stranger sends. What a request carried enters through the one
/// <see cref="IReceiptSink"/>.
/// </summary>
public static class CallbacksApi
{
    public static IEndpointRouteBuilder MapCallbacksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/callbacks").WithTags("Callbacks");
        group.MapMethods("/{kind}/{accountId:guid}", [HttpMethods.Get, HttpMethods.Post], CallbackAsync);
        foreach (var handler in app.ServiceProvider.GetServices<IChannelCallbackHandler>())
        {
            foreach (var alias in handler.Aliases)
            {
                group.MapMethods(alias.Pattern, [alias.Method], (HttpRequest request, ProviderDirectory directory, IReceiptSink sink, TimeProvider time,
                    ILoggerFactory loggers, CancellationToken ct) =>
                {
                    if (request.RouteValues.TryGetValue("accountId", out var value) && Guid.TryParse(value as string, out var accountId))
                    {
                        return NamedAsync(handler, accountId, request, directory, sink, time, loggers, ct);
                    }

                    return HandleAsync(handler, new CallbackRequest(request, null), sink, time, loggers, ct);
                });
            }
        }

        return app;
    }

    private static Task<IResult> CallbackAsync(
        string kind, Guid accountId, HttpRequest request, IEnumerable<IChannelCallbackHandler> handlers, ProviderDirectory directory,
        IReceiptSink sink, TimeProvider time, ILoggerFactory loggers, CancellationToken ct) =>
        handlers.FirstOrDefault(h => h.Kind == kind) is { } handler
            ? NamedAsync(handler, accountId, request, directory, sink, time, loggers, ct)
            : Task.FromResult(Problems.NotFound("Provider"));

    /// <summary>A path that names the account: one of the handler's kind, enabled, or 404.</summary>
    private static Task<IResult> NamedAsync(
        IChannelCallbackHandler handler, Guid accountId, HttpRequest request, ProviderDirectory directory, IReceiptSink sink,
        TimeProvider time, ILoggerFactory loggers, CancellationToken ct) =>
        directory.Find(accountId) is { } account && account.Kind == handler.Kind
            ? HandleAsync(handler, new CallbackRequest(request, account), sink, time, loggers, ct)
            : Task.FromResult(Problems.NotFound("Provider"));

    private static async Task<IResult> HandleAsync(
        IChannelCallbackHandler handler, CallbackRequest callback, IReceiptSink sink, TimeProvider time, ILoggerFactory loggers, CancellationToken ct)
    {
        var logger = loggers.CreateLogger("Herald.Callbacks." + handler.Kind);
        if (handler.Admit(callback) is { } refused)
        {
            return Refuse(logger, refused);
        }

        var body = ReadOnlyMemory<byte>.Empty;
        if (!HttpMethods.IsGet(callback.Http.Method))
        {
            (body, var tooLarge) = await RequestBody.ReadAsync(callback.Http, handler.MaxBodyBytes);
            if (tooLarge is not null)
            {
                return tooLarge;
            }
        }

        var result = handler.Read(callback, body.Span, time.GetUtcNow());
        if (result.Refusal is { } refusal)
        {
            return Refuse(logger, refusal);
        }

        foreach (var batch in result.Batches.Where(static b => b.Receipts.Count > 0))
        {
            await sink.AcceptAsync(batch, ct);
        }

        return result.Reply switch
        {
            CallbackReply.NoContent => TypedResults.NoContent(),
            CallbackReply.Text => TypedResults.Text(result.Text ?? ""),
            _ => TypedResults.Ok(),
        };
    }

    private static IResult Refuse(ILogger logger, CallbackRefusal refusal)
    {
        logger.CallbackRejected(refusal.LogReason);
        return Problems.Result(refusal.Status, refusal.Type, refusal.Title, refusal.Detail,
            refusal.Errors is { } errors ? [.. errors.Select(static e => new InputError(e.Pointer, e.Detail))] : null);
    }
}
