using Herald.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald.Server.Changes;

public static class ChangesServiceCollectionExtensions
{
    /// <summary>Subscribes the node's <see cref="IChangeSubscriber"/>s to the storage's <see cref="IChangeFeed"/>
    /// (registered with the storage backend).</summary>
    public static IServiceCollection AddHeraldChanges(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ChangeSubscriptions>());
        return services;
    }
}
