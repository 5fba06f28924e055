using Herald.Server.Hosting;

namespace Herald.Server.Audit;

public static class AuditServiceCollectionExtensions
{
    /// <summary>The audit API's JSON and the refused-authentication counter (its minute entries are flushed by nodes that
    /// serve the API, where the refusals happen).</summary>
    public static IServiceCollection AddHeraldAudit(this IServiceCollection services, HeraldRole role)
    {
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(AuditJson.Default));
        services.AddSingleton<AuthRefusals>();
        if (role.ServesApi())
        {
            services.AddHostedService(sp => sp.GetRequiredService<AuthRefusals>());
        }

        return services;
    }
}
