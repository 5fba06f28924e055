
namespace Herald.Server.Quotas;

public static class QuotasServiceCollectionExtensions
{
    public static IServiceCollection AddHeraldQuotas(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<QuotaOptions>().BindConfiguration(QuotaOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IngestQuotas>();
        return services;
    }
}
