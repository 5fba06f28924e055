using Herald.Core.Observability;
using Herald.Server.Hosting;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Herald.Server.Observability;

public static class TracingServiceCollectionExtensions
{
    /// <summary>The standard OpenTelemetry setting that switches tracing on (docs/OBSERVABILITY.md, Traces).</summary>
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>
    /// Traces exported with OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the exporter reads the other
    /// <c>OTEL_*</c> settings itself: protocol, headers, batch delay), nothing at all when it is not: no tracer then
    /// listens, and every Herald span start answers null (<see cref="HeraldTraces.StartIn"/>).
    /// </summary>
    public static IServiceCollection AddHeraldTracing(this IServiceCollection services, IConfiguration configuration, HeraldRole role)
    {
        if (string.IsNullOrWhiteSpace(configuration[OtlpEndpointSetting]))
        {
            services.AddHostedService<RequestTraceContext>();
            return services;
        }

        services.AddOpenTelemetry()
            .ConfigureResource(r => r
                .AddService("herald", autoGenerateServiceInstanceId: true)
                .AddAttributes([new("herald.role", role.ToString().ToLowerInvariant())]))
            .WithTracing(t => t
                .AddSource(HeraldTraces.SourceName)
                // Scrapes and probes would bury the notifications' traces.
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsProbe(context.Request.Path))
                .AddHttpClientInstrumentation()
                // Before the exporter: nothing leaves the node unscrubbed.
                .AddProcessor(new TraceScrubber())
                .AddOtlpExporter());
        return services;
    }

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments("/metrics", StringComparison.Ordinal) || path.StartsWithSegments("/health", StringComparison.Ordinal);
}
