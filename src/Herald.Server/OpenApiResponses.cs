namespace Herald.Server;

/// <summary>
/// Response declarations for the OpenAPI document. Handlers that read the request themselves (to bound its size and
/// locate errors) give the generator nothing to infer, so each endpoint states its answers here.
/// </summary>
public static class OpenApiResponses
{
    /// <summary>Declares <paramref name="statuses"/> as RFC 9457 answers (<see cref="Problem"/>, <c>application/problem+json</c>).</summary>
    public static RouteHandlerBuilder ProducesProblems(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.Produces<Problem>(status, Problems.ContentType);
        }

        return builder;
    }
}
