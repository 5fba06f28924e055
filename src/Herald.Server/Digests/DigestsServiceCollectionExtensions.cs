using Herald.Server.Hosting;

namespace Herald.Server.Digests;

public static class DigestsServiceCollectionExtensions
{
    /// <summary>Registers the digest settings and, on nodes that deliver, the housekeeping of old windows.</summary>
    public static IServiceCollection AddHeraldDigests(this IServiceCollection services, IConfiguration configuration, HeraldRole role)
    {
        services.AddOptions<DigestsOptions>().Bind(configuration.GetSection(DigestsOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<DigestWindows>();
        services.AddSingleton<DigestHousekeeping>();
        if (role.Delivers())
        {
            services.AddHostedService(sp => sp.GetRequiredService<DigestHousekeeping>());
        }

        return services;
    }
}
