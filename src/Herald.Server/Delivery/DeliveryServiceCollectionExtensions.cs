using Herald.Channels.Callbacks;
using Herald.Channels.Sms.Smpp;
using Herald.Server.Hosting;

namespace Herald.Server.Delivery;

public static class DeliveryServiceCollectionExtensions
{
    /// <summary>The worker settings, receipt processing and the one receipt door (<see cref="IReceiptSink"/>, also
    /// for API nodes' callbacks); on nodes that deliver, the delivery worker with its loader and sender, the queue's
    /// maintenance and the SMPP receipts' way in.</summary>
    public static IServiceCollection AddHeraldDelivery(this IServiceCollection services, IConfiguration configuration, HeraldRole role)
    {
        services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ReceiptProcessor>();
        services.AddSingleton<IReceiptSink, ReceiptSink>();
        if (role.Delivers())
        {
            services.AddSingleton<DeliveryLoader>();
            services.AddSingleton<DeliverySender>();
            services.AddHostedService<DeliveryWorker>();
            services.AddHostedService<QueueMaintenance>();
            services.AddSmppReceipts<ReceiptSink>();
        }

        return services;
    }
}
