using Herald.Storage;

namespace Herald.Server.Customers;

public static class CustomersServiceCollectionExtensions
{
    public static IServiceCollection AddHeraldCustomers(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CustomersOptions>().Bind(configuration.GetSection(CustomersOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<CustomerCache>();
        services.AddSingleton<IChangeSubscriber>(sp => sp.GetRequiredService<CustomerCache>());
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(CustomersJson.Default));
        return services;
    }
}
