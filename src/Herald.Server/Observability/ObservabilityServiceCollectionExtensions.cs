namespace Herald.Server.Observability;

public static class ObservabilityServiceCollectionExtensions
{
    /// <summary>Registers the metrics settings and the sampler behind the dependency, circuit and (on delivering
    /// nodes) queue gauges (docs/OBSERVABILITY.md).</summary>
    public static IServiceCollection AddHeraldObservability(this IServiceCollection services, IConfiguration configuration, bool delivers)
    {
        services.AddOptions<ObservabilityOptions>().BindConfiguration(ObservabilityOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddHostedService(sp => ActivatorUtilities.CreateInstance<QueueSampler>(sp, delivers));

        return services;
    }
}
