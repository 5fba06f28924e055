
namespace Herald.Server.Reports;

public static class ReportsServiceCollectionExtensions
{
    public static IServiceCollection AddHeraldReports(this IServiceCollection services, IConfiguration configuration)
    {
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(ReportsJson.Default));
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(OverviewJson.Default));
        return services;
    }
}
