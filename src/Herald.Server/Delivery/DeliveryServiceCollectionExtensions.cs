using Herald.Channels.Sms.Smpp;
using Herald.Server.Hosting;

namespace Herald.Server.Delivery;

public static class DeliveryServiceCollectionExtensions
{
    /// <summary>The worker settings and receipt processing; on nodes that deliver, the delivery worker, the queue's
    /// maintenance and the SMPP receipts' way in.</summary>
    public static IServiceCollection AddHeraldDelivery(this IServiceCollection services, IConfiguration configuration, HeraldRole role)
    {
        services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ReceiptProcessor>();
        if (role.Delivers())
        {
            services.AddHostedService<DeliveryWorker>();
            services.AddHostedService<QueueMaintenance>();
            services.AddSmppReceipts<ProviderReceiptSink>();
        }

        return services;
    }
}
