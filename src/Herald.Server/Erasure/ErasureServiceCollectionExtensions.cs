namespace Herald.Server.Erasure;

public static class ErasureServiceCollectionExtensions
{
    /// <summary>Erasure on request: the API and the service behind it.</summary>
    public static IServiceCollection AddHeraldErasure(this IServiceCollection services, IConfiguration configuration)
    {
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(ErasureJson.Default));
        services.AddSingleton<CustomerErasure>();
        return services;
    }
}
