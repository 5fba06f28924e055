using Herald.Server.Hosting;

namespace Herald.Server.Operations;

public static class OperationsServiceCollectionExtensions
{
    /// <summary>Readiness, graceful drain, the storage-outage answer (issue #7) and the exposure of /metrics and
    /// /openapi (<see cref="OperationsOptions"/>).</summary>
    public static IServiceCollection AddHeraldOperations(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<OperationsOptions>().BindConfiguration(OperationsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<DrainState>();
        services.AddHostedService<DrainOnShutdown>();
        services.AddExceptionHandler<StorageUnavailableHandler>();
        // The shutdown timeout covers the drain delay too: in-flight work still gets its 30 seconds after it.
        var drain = configuration.GetValue<TimeSpan?>(HeraldOptions.Section + ":" + nameof(HeraldOptions.DrainDelay)) ?? HeraldOptions.DefaultDrainDelay;
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30) + (drain > TimeSpan.Zero ? drain : TimeSpan.Zero));
        return services;
    }
}
