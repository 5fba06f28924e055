namespace Herald.Server.Throttling;

public static class ThrottlingServiceCollectionExtensions
{
    /// <summary>The throttle rule action's upkeep; admission itself runs in the delivery worker, the group is set at ingest.</summary>
    public static IServiceCollection AddHeraldThrottling(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ThrottlingOptions>().BindConfiguration(ThrottlingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<Throttles>();
        services.AddSingleton<ThrottleMaintenance>();
        services.AddHostedService(sp => sp.GetRequiredService<ThrottleMaintenance>());
        return services;
    }
}
