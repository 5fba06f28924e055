using System.Net;
using Herald.Channels.Callbacks;
using Herald.Channels.Egress;
using Herald.Channels.Providers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Herald.Channels;

public static class ChannelsServiceCollectionExtensions
{
    /// <summary>
    /// Registers every channel of the <see cref="ChannelCatalog"/> (its connector as an <see cref="IChannelConnector"/>,
    /// HttpClient, callback handler and account matcher), the <see cref="CallbackPipeline"/>, the
    /// <see cref="ProviderDirectory"/> (a hosted service: first load at start) and the <see cref="ChannelDispatcher"/>,
    /// with <see cref="ChannelsOptions"/> bound from <c>Herald:Channels</c> and validated at start.
    /// Needs an <see cref="Herald.Core.Providers.IProviderAccountSource"/> (the provider store registers itself as one).
    /// </summary>
    public static IServiceCollection AddHeraldChannels(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ChannelsOptions>()
            .Bind(configuration.GetSection(ChannelsOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(static o => o.HttpTimeout >= o.SendTimeout, "Herald:Channels:HttpTimeout must not be shorter than SendTimeout")
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.AddHeraldEgress(configuration);

        foreach (var channel in ChannelCatalog.All)
        {
            channel.Register(services, configuration);
        }

        services.TryAddSingleton<CallbackPipeline>();

        services.TryAddSingleton<ProviderDirectory>();
        services.AddHostedService(static sp => sp.GetRequiredService<ProviderDirectory>());
        services.TryAddSingleton<IProviderSelector, CostPolicyProviderSelector>();
        services.TryAddSingleton<ChannelDispatcher>();
        return services;
    }

    /// <summary>
    /// Registers the <see cref="EgressGuard"/> every tenant-driven connection goes through, with
    /// <see cref="EgressOptions"/> bound from <c>Herald:Egress</c> (every allow-list entry must parse: checked at start)
    /// and DNS as its resolver unless the host brought its own <see cref="EgressResolver"/>.
    /// </summary>
    public static IServiceCollection AddHeraldEgress(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EgressOptions>()
            .Bind(configuration.GetSection(EgressOptions.SectionName))
            .Validate(static o => o.Allow.All(static e => EgressRule.Parse(e) is not null),
                "Herald:Egress:Allow: every entry must be a host name, an IP address or a CIDR range, with an optional :port")
            .ValidateOnStart();
        services.TryAddSingleton<EgressResolver>(static (host, ct) => Dns.GetHostAddressesAsync(host, ct));
        services.TryAddSingleton<EgressGuard>();
        return services;
    }

    internal static void AddConnectorClient(IServiceCollection services, string name) =>
        services.AddHttpClient(name)
            .ConfigureHttpClient(static (sp, client) =>
            {
                client.Timeout = sp.GetRequiredService<IOptions<ChannelsOptions>>().Value.HttpTimeout;
                client.DefaultRequestVersion = HttpVersion.Version11;
                client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrHigher;
            })
            .ConfigurePrimaryHttpMessageHandler(static sp =>
            {
                var options = sp.GetRequiredService<IOptions<ChannelsOptions>>().Value;
                // Every connection through the egress guard, never through an environment proxy, no redirects.
                var handler = sp.GetRequiredService<EgressGuard>().Handler();
                // The handler lives for the process; PooledConnectionLifetime recycles connections for DNS.
                handler.PooledConnectionLifetime = options.PooledConnectionLifetime;
                handler.PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1);
                handler.MaxConnectionsPerServer = options.MaxConnectionsPerServer;
                handler.ConnectTimeout = options.ConnectTimeout;
                handler.AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate;
                handler.EnableMultipleHttp2Connections = true;
                return handler;
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            // The default request logging writes full URIs, and the Bot API carries its token in the path.
            .RemoveAllLoggers();
}
