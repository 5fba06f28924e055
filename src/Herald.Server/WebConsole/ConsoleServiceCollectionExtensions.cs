using Herald.Server.Authentication;
using Microsoft.AspNetCore.Authentication;

namespace Herald.Server.WebConsole;

public static class ConsoleServiceCollectionExtensions
{
    /// <summary>The console's settings and its session scheme. The API-key scheme (the default) forwards a request
    /// with the console's cookie and no Authorization header to the session scheme, so endpoints need no change.</summary>
    public static IServiceCollection AddHeraldConsole(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ConsoleOptions>().BindConfiguration(ConsoleOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(ConsoleJson.Default));
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, ConsoleSessionHandler>(ConsoleSessionHandler.SchemeName, null);
        services.PostConfigure<AuthenticationSchemeOptions>(ApiKeyAuthenticationHandler.SchemeName,
            o => o.ForwardDefaultSelector = static c => ConsoleSessionHandler.Applies(c) ? ConsoleSessionHandler.SchemeName : null);
        return services;
    }
}
