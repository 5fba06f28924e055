using Herald.Server.Hosting;

namespace Herald.Server.Webhooks;

public static class WebhooksServiceCollectionExtensions
{
    public static IServiceCollection AddHeraldWebhooks(this IServiceCollection services, IConfiguration configuration, HeraldRole role)
    {
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section).ValidateDataAnnotations()
            // A lease shorter than a round lets another node claim deliveries still being sent: duplicate requests.
            .Validate(o => o.Lease > o.SlowestRound,
                "Herald:Webhooks:Lease must be longer than Timeout x ceil(ClaimBatch / Concurrency), the longest a claimed batch can take.")
            .Validate(o => !o.AllowPrivateAddresses,
                "Herald:Webhooks:AllowPrivateAddresses is gone: allow an internal receiver by name or range in Herald:Egress:Allow "
                + "(Herald:Webhooks:AllowLoopback for a receiver on this machine).")
            .ValidateOnStart();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(WebhooksJson.Default));
        if (role.Delivers())
        {
            services.AddHostedService<WebhookDispatcher>();
        }

        return services;
    }
}
