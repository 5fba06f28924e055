namespace Herald.Server.Demo;

public static class DemoServiceCollectionExtensions
{
    /// <summary>The embedded demo's settings and start-up (it runs only when enabled; see <see cref="DemoBootstrap"/>).</summary>
    /// <param name="portNotes">What <see cref="DemoPorts.Choose"/> said about the ports at start.</param>
    public static IServiceCollection AddHeraldDemo(this IServiceCollection services, IConfiguration configuration, DemoPortNotes portNotes)
    {
        services.AddOptions<DemoOptions>().BindConfiguration(DemoOptions.Section);
        services.AddSingleton(portNotes);
        services.AddSingleton<SandboxEndpoints>();
        services.AddSingleton<DemoBootstrap>();
        return services;
    }
}
