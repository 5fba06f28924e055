using Herald.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald.Server.Authentication;

public static class AuthenticationServiceCollectionExtensions
{
    /// <summary>API-key authentication and the role policies (<see cref="Policies"/>).</summary>
    public static IServiceCollection AddHeraldAuthentication(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<ApiKeyCache>();
        services.AddSingleton<ApiKeyUsage>();
        services.AddHostedService<ApiKeyUsageFlusher>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IChangeSubscriber, ApiKeyCacheSubscriber>());
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Send, p => p.RequireClaim(ApiKeyAuthenticationHandler.TenantClaim).RequireRole(Roles.Send, Roles.Admin))
            .AddPolicy(Policies.Read, p => p.RequireClaim(ApiKeyAuthenticationHandler.TenantClaim).RequireRole(Roles.Read, Roles.Admin, Roles.Viewer))
            .AddPolicy(Policies.Admin, p => p.RequireClaim(ApiKeyAuthenticationHandler.TenantClaim).RequireRole(Roles.Admin))
            .AddPolicy(Policies.Inspect, p => p.RequireClaim(ApiKeyAuthenticationHandler.TenantClaim).RequireRole(Roles.Admin, Roles.Viewer))
            .AddPolicy(Policies.System, p => p.RequireRole(Roles.System));
        return services;
    }
}
