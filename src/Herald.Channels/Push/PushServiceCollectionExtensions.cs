using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald.Channels.Push;

public static class PushServiceCollectionExtensions
{
    /// <summary>
    /// Registers the push channel: the FCM HTTP v1 connector (kind <c>fcm</c>) as an <see cref="IChannelConnector"/> and
    /// its HttpClient, configured from <c>Herald:Channels</c> like the other HTTP connectors. Called by
    /// <see cref="ChannelsServiceCollectionExtensions.AddHeraldChannels"/>.
    /// </summary>
    public static IServiceCollection AddHeraldPush(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ChannelsServiceCollectionExtensions.AddConnectorClient(services, FcmConnector.HttpClientName);
        services.TryAddSingleton<FcmConnector>();
        services.AddSingleton<IChannelConnector>(static sp => sp.GetRequiredService<FcmConnector>());
        return services;
    }
}
