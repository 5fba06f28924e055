using Herald.Server.Hosting;
using Herald.Storage;

namespace Herald.Server.Providers;

public static class ProvidersServiceCollectionExtensions
{
    /// <param name="role">Whether this node delivers decides whether its circuits are reported and shown live.</param>
    public static IServiceCollection AddHeraldProviders(this IServiceCollection services, IConfiguration configuration, HeraldRole role)
    {
        var sends = role.Delivers();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(ProvidersJson.Default));
        services.AddSingleton(new ProviderCircuitNode { Sends = sends });
        services.AddSingleton<ProviderCircuitReader>();
        services.AddSingleton<IChangeSubscriber, ProviderResetSubscriber>();
        services.AddSingleton<IChangeSubscriber, ProviderDirectoryReloader>();
        if (sends)
        {
            services.AddHostedService<ProviderCircuitReporter>();
        }

        return services;
    }
}
