using Herald.Channels;
using Herald.Channels.Callbacks;
using Herald.Ingest;

namespace Herald.Server.Callbacks;

/// <summary>
/// Provider callbacks (SPEC §3): receipts come in here, on one route for every channel,
/// <c>/callbacks/{kind}/{accountId}</c>, run by the <see cref="CallbackPipeline"/> with the channel's
/// <see cref="IChannelCallbackHandler"/> (streaming body cap, signature or token, parse, the one receipt door); each
/// handler's older paths (<c>/callbacks/whatsapp</c>, <c>/callbacks/sms/{accountId}</c>, …) are kept as aliases. This
/// file only maps the outcome to Herald's HTTP answers.
/// </summary>
public static class CallbacksApi
{
    public static IEndpointRouteBuilder MapCallbacksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/callbacks").WithTags("Callbacks");
        group.MapMethods("/{kind}/{accountId:guid}", [HttpMethods.Get, HttpMethods.Post],
            async (string kind, Guid accountId, HttpRequest request, CallbackPipeline pipeline, CancellationToken ct) =>
                Answer(await pipeline.RunAsync(kind, accountId, request, ct)))
            .WithSummary("A provider's callback for one of its accounts: receipts (signed by the provider, no API key)")
            .Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status204NoContent)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden,
                StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge);
        // From the catalog's data, not the services: mapping must not build them (a bad secrets key would then end
        // the start with a stack trace instead of its one line).
        foreach (var plugin in ChannelCatalog.All)
        {
            var kind = plugin.Definition.Kind;
            foreach (var alias in plugin.CallbackAliases ?? [])
            {
                group.MapMethods(alias.Pattern, [alias.Method], async (HttpRequest request, CallbackPipeline pipeline, CancellationToken ct) =>
                    Answer(request.RouteValues.TryGetValue("accountId", out var value) && Guid.TryParse(value as string, out var accountId)
                        ? await pipeline.RunAsync(kind, accountId, request, ct)
                        : await pipeline.RunAsync(kind, request, ct)))
                    .WithSummary($"The {kind} provider's callback at its older path (as /callbacks/{kind}/{{accountId}})")
                    .Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status204NoContent)
                    .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden,
                        StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge);
            }
        }

        return app;
    }

    private static IResult Answer(CallbackOutcome outcome) =>
        outcome.IsNotFound ? Problems.NotFound("Provider")
        : outcome.TooLargeLimit > 0 ? Problems.Result(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "The body is too large.", $"At most {outcome.TooLargeLimit} bytes.")
        : outcome.Refusal is { } refusal ? Problems.Result(refusal.Status, refusal.Type, refusal.Title, refusal.Detail,
            refusal.Errors is { } errors ? [.. errors.Select(static e => new InputError(e.Pointer, e.Detail))] : null)
        : outcome.Reply switch
        {
            CallbackReply.NoContent => TypedResults.NoContent(),
            CallbackReply.Text => TypedResults.Text(outcome.Text ?? ""),
            _ => TypedResults.Ok(),
        };
}
