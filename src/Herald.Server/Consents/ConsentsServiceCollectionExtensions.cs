using Herald.Storage;

namespace Herald.Server.Consents;

public static class ConsentsServiceCollectionExtensions
{
    /// <summary>Keywords and the consent ledger (issue #16): the per-node opt-out view routing reads (kept current by the
    /// change feed), the keyword hook of the inbound path, and the API's JSON.</summary>
    public static IServiceCollection AddHeraldConsents(this IServiceCollection services)
    {
        services.AddSingleton<ConsentCache>();
        services.AddSingleton<IChangeSubscriber>(static sp => sp.GetRequiredService<ConsentCache>());
        services.AddSingleton<ConsentKeywords>();
        services.ConfigureHttpJsonOptions(static o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Add(ConsentsJson.Default);
            o.SerializerOptions.TypeInfoResolverChain.Add(KeywordsJson.Default);
        });
        return services;
    }
}
