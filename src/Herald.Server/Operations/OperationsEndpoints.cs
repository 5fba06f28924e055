using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Operations;

/// <summary>
/// Settings under <c>Herald:Operations</c>: whether the operator's endpoints (<c>/metrics</c>, <c>/openapi/*</c>) are
/// served at all, and on which port. Neither needs a key, so they are off unless asked for (the embedded demo asks),
/// and a deployment that turns them on keeps them off its public listener with <see cref="ManagementPort"/>.
/// </summary>
public sealed class OperationsOptions
{
    public const string Section = "Herald:Operations";

    /// <summary>Serve Prometheus metrics at <c>/metrics</c>. They name tenants' providers and volumes.</summary>
    public bool ExposeMetrics { get; set; }

    /// <summary>Serve the OpenAPI document at <c>/openapi/v1.json</c> (API roles only).</summary>
    public bool ExposeOpenApi { get; set; }

    /// <summary>When set, <c>/metrics</c> and <c>/openapi/*</c> answer only requests that arrived on this local port
    /// (add it to <c>ASPNETCORE_URLS</c>, e.g. <c>http://+:8080;http://+:9090</c>, and publish only the API port);
    /// on every other port they answer 404. The local port of the connection decides, not the Host header.</summary>
    [Range(1, 65535)]
    public int? ManagementPort { get; set; }
}

public static class OperationsEndpoints
{
    /// <summary>Maps <c>/metrics</c> (any role) and <c>/openapi/{documentName}.json</c> (API roles) as
    /// <see cref="OperationsOptions"/> says.</summary>
    public static void MapOperationsEndpoints(this WebApplication app, bool servesApi)
    {
        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<OperationsOptions>>().Value;
        if (options.ExposeMetrics)
        {
            OnlyOnManagementPort(app.MapPrometheusScrapingEndpoint("/metrics"), options.ManagementPort);
        }

        if (servesApi && options.ExposeOpenApi)
        {
            OnlyOnManagementPort(app.MapOpenApi("/openapi/{documentName}.json"), options.ManagementPort);
        }
    }

    private static void OnlyOnManagementPort(IEndpointConventionBuilder endpoint, int? port)
    {
        if (port is not { } management)
        {
            return;
        }

        // Finally: a route handler's request delegate is only built after the ordinary conventions ran.
        endpoint.Finally(builder =>
        {
            var inner = builder.RequestDelegate!;
            builder.RequestDelegate = context => context.Connection.LocalPort == management
                ? inner(context)
                : Problems.Write(context, StatusCodes.Status404NotFound, "not-found", "Not found.");
        });
    }
}
