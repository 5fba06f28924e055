using Herald.Storage;

namespace Herald.Server.Operations;

public static class HealthApi
{
    /// <summary><c>/healthz</c>: the process runs (liveness: restart it when this fails). <c>/readyz</c>: its dependencies
    /// answer and it is not draining, so a balancer may send it traffic.</summary>
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Text("ok")).WithTags("Operations")
            .WithName("getLiveness").WithSummary("Liveness: the process runs (restart it when this fails)")
            .Produces<string>(contentType: "text/plain");
        app.MapGet("/readyz", async (IStorageHealth storage, DrainState drain, CancellationToken ct) =>
            {
                drain.Probed();
                // Draining first: a leaving node must drop out of the balancer even when storage answers.
                if (drain.IsDraining)
                {
                    return Problems.Result(StatusCodes.Status503ServiceUnavailable, "draining", "This node is shutting down.");
                }

                return await storage.IsReadyAsync(ct)
                    ? Results.Text("ready")
                    : Problems.Result(StatusCodes.Status503ServiceUnavailable, "not-ready", "Storage does not answer.");
            })
            .WithTags("Operations")
            .WithName("getReadiness").WithSummary("Readiness: storage answers and the node is not draining, so a balancer may send it traffic")
            .Produces<string>(contentType: "text/plain")
            .ProducesProblems(StatusCodes.Status503ServiceUnavailable);
        return app;
    }
}
