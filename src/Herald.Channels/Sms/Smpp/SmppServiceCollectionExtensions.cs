using Herald.Channels.Callbacks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald.Channels.Sms.Smpp;

public static class SmppServiceCollectionExtensions
{
    /// <summary>
    /// Registers the "smpp" connector (as an <see cref="IChannelConnector"/>) and its session pool. Called by
    /// <c>AddHeraldChannels</c>; receipts need an <see cref="IReceiptSink"/> from the host.
    /// </summary>
    public static IServiceCollection AddSmppConnector(this IServiceCollection services)
    {
        if (services.Any(static d => d.ServiceType == typeof(SmppSmsConnector)))
        {
            return services;
        }

        services.TryAddSingleton<SmppSessions>();
        services.TryAddSingleton<SmppSmsConnector>();
        services.AddSingleton<IChannelConnector>(static sp => sp.GetRequiredService<SmppSmsConnector>());
        return services;
    }

    /// <summary>
    /// Binds every enabled "smpp" account when the host starts (<see cref="SmppAccountBinder"/>) and routes their
    /// receipts to <typeparamref name="TSink"/>. For hosts that deliver.
    /// </summary>
    public static IServiceCollection AddSmppReceipts<TSink>(this IServiceCollection services)
        where TSink : class, IReceiptSink
    {
        services.AddSmppConnector();
        services.TryAddSingleton<IReceiptSink, TSink>();
        services.AddHostedService<SmppAccountBinder>();
        return services;
    }
}
