
namespace Herald.Server.Sources;

public static class SourcesServiceCollectionExtensions
{
    public static IServiceCollection AddHeraldSources(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SourcesOptions>().BindConfiguration(SourcesOptions.Section).ValidateDataAnnotations()
            .Validate(o => SourcesOptions.ParseTrustedProxies(o.TrustedProxies) is not null,
                "Herald:Sources:TrustedProxies must list IP addresses or CIDR ranges (10.0.9.0/24).")
            .ValidateOnStart();
        services.AddSingleton<SourceIngest>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(SourcesJson.Default));
        return services;
    }
}
