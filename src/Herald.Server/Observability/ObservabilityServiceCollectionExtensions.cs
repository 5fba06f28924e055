namespace Herald.Server.Observability;

public static class ObservabilityServiceCollectionExtensions
{
    /// <summary>Registers the metrics settings and, on delivering nodes, the queue sampler behind the queue and
    /// circuit gauges (docs/OBSERVABILITY.md).</summary>
    public static IServiceCollection AddHeraldObservability(this IServiceCollection services, IConfiguration configuration, bool delivers)
    {
        services.AddOptions<ObservabilityOptions>().BindConfiguration(ObservabilityOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        if (delivers)
        {
            services.AddHostedService<QueueSampler>();
        }

        return services;
    }
}
