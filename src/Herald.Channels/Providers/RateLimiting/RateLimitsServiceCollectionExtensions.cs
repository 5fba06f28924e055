using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Herald.Channels.Providers.RateLimiting;

public static class RateLimitsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the provider rate limiter (<see cref="IProviderRateLimiter"/>, which the <see cref="ChannelDispatcher"/>
    /// asks before every send through an account with a rate) and its heartbeat, with <see cref="RateLimitOptions"/>
    /// bound from <c>Herald:RateLimits</c> and validated at start. Needs the optional
    /// <see cref="Herald.Redis.RedisConnection"/> (AddHeraldRedis); without a Redis server it limits locally.
    /// </summary>
    public static IServiceCollection AddHeraldRateLimits(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RateLimitOptions>()
            .Bind(configuration.GetSection(RateLimitOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(static o => o.CriticalMaxWait >= o.MaxWait, "Herald:RateLimits:CriticalMaxWait must not be shorter than MaxWait")
            .Validate(static o => o.NodeTimeout > o.HeartbeatInterval, "Herald:RateLimits:NodeTimeout must be longer than HeartbeatInterval")
            .Validate(static o => o.RedisDownAfter > o.RedisTimeout, "Herald:RateLimits:RedisDownAfter must be longer than RedisTimeout")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IRateLimitMetrics, NoRateLimitMetrics>();
        services.TryAddSingleton<RateLimitInstruments>();
        services.TryAddSingleton(static sp => new SharedRateLimiter(
            sp.GetRequiredService<Herald.Redis.RedisConnection>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<RateLimitOptions>>().Value,
            sp.GetRequiredService<RateLimitInstruments>()));
        services.TryAddSingleton<LocalRateLimiter>();
        services.TryAddSingleton(static sp => new ProviderRateLimiter(
            sp.GetRequiredService<SharedRateLimiter>(),
            sp.GetRequiredService<LocalRateLimiter>(),
            sp.GetRequiredService<IOptions<RateLimitOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IRateLimitMetrics>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<ProviderRateLimiter>>(),
            sp.GetRequiredService<RateLimitInstruments>()));
        services.TryAddSingleton<IProviderRateLimiter>(static sp => sp.GetRequiredService<ProviderRateLimiter>());
        services.AddHostedService<RateLimitHeartbeat>();
        return services;
    }
}
