using Herald.Server.Hosting;

namespace Herald.Server.Retention;

public static class RetentionServiceCollectionExtensions
{
    /// <summary>Per-tenant retention: the settings API on every node, the purge on delivering nodes.</summary>
    public static IServiceCollection AddHeraldRetention(this IServiceCollection services, IConfiguration configuration, HeraldRole role)
    {
        services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(RetentionJson.Default));
        if (role.Delivers())
        {
            services.AddSingleton<RetentionPurge>();
            services.AddHostedService(sp => sp.GetRequiredService<RetentionPurge>());
        }

        return services;
    }
}
