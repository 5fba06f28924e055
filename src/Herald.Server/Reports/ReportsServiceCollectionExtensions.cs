using Herald.Server.Hosting;

namespace Herald.Server.Reports;

public static class ReportsServiceCollectionExtensions
{
    public static IServiceCollection AddHeraldReports(this IServiceCollection services, IConfiguration configuration, HeraldRole role)
    {
        services.AddOptions<ReportsOptions>().BindConfiguration(ReportsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        if (role.Delivers())
        {
            services.AddSingleton<NotificationCounting>();
            services.AddHostedService(sp => sp.GetRequiredService<NotificationCounting>());
        }

        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(ReportsJson.Default));
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(OverviewJson.Default));
        return services;
    }
}
