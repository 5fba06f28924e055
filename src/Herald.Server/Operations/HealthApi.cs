using Herald.Storage;

namespace Herald.Server.Operations;

public static class HealthApi
{
    /// <summary><c>/healthz</c>: the process runs. <c>/readyz</c>: its dependencies answer, so a balancer may send it traffic.</summary>
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Text("ok")).ExcludeFromDescription();
        app.MapGet("/readyz", async (IStorageHealth storage, CancellationToken ct) =>
            await storage.IsReadyAsync(ct)
                ? Results.Text("ready")
                : Problems.Result(StatusCodes.Status503ServiceUnavailable, "not-ready", "Storage does not answer."))
            .ExcludeFromDescription();
        return app;
    }
}
