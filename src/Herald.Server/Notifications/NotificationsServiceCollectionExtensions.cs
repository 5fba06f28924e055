using Herald.Server.Hosting;

namespace Herald.Server.Notifications;

public static class NotificationsServiceCollectionExtensions
{
    /// <summary>The ingest settings and, on nodes that serve the API, the ingest service (load and plan) and the group
    /// commit that stores what it planned.</summary>
    public static IServiceCollection AddHeraldNotifications(this IServiceCollection services, IConfiguration configuration, HeraldRole role)
    {
        services.AddOptions<IngestOptions>().BindConfiguration(IngestOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<NotificationCancellation>();
        // Ingest, the keyword answers (inbound, any role) and the rules dry run hash group keys alike.
        services.AddSingleton<GroupKeys>();
        if (role.ServesApi())
        {
            services.AddSingleton<IngestService>();
            services.AddSingleton<GroupCommit>();
            services.AddHostedService(sp => sp.GetRequiredService<GroupCommit>());
        }

        return services;
    }
}
