namespace Herald.Server.Admin;

public static class AdminServiceCollectionExtensions
{
    /// <summary>Tenant provisioning for <c>/v1/admin</c> (and the embedded demo).</summary>
    public static IServiceCollection AddHeraldAdmin(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<TenantProvisioning>();
        return services;
    }
}
