namespace Herald.Server.Demo;

public static class DemoServiceCollectionExtensions
{
    /// <summary>The embedded demo's settings and start-up (it runs only when enabled; see <see cref="DemoBootstrap"/>).</summary>
    public static IServiceCollection AddHeraldDemo(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DemoOptions>().BindConfiguration(DemoOptions.Section);
        services.AddSingleton<DemoBootstrap>();
        return services;
    }
}
