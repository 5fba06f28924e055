using Herald.Core.Notifications;

namespace Herald.Core.Routing;

/// <summary>
/// The route used when no rule decides otherwise (SPEC §2): priority as given, else by type; WhatsApp → Telegram
/// → SMS → email → push, skipping channels the customer has no address for; WhatsApp waits for delivered.
/// </summary>
public sealed class DefaultRouter(DefaultRouteOptions options) : IRouter
{
    private static readonly Channel[] DefaultPlan = [Channel.WhatsApp, Channel.Telegram, Channel.Sms, Channel.Email, Channel.Push];

    public Route Decide(NewNotification notification)
    {
        var priority = notification.RequestedPriority ?? PriorityForType(notification.Type);
        var plan = notification.RequestedChannels is { Count: > 0 } requested ? requested : DefaultPlan;
        var steps = new List<RouteStep>(plan.Count);
        foreach (var channel in plan)
        {
            if (notification.Contacts.AddressFor(channel) is null || steps.Exists(s => s.Channel == channel))
            {
                continue;
            }

            steps.Add(channel == Channel.WhatsApp
                ? new RouteStep(channel, WaitFor.Delivered, options.WhatsAppReceiptTimeout)
                : new RouteStep(channel, WaitFor.Sent, options.SentTimeout));
        }

        return new Route(priority, steps);
    }

    public static Priority PriorityForType(string type) => type switch
    {
        "otp" or "fraud.alert" => Priority.Critical,
        "card.transaction" => Priority.High,
        _ => Priority.Normal,
    };
}

public sealed class DefaultRouteOptions
{
    /// <summary>How long a WhatsApp step waits for a delivered receipt before falling back.</summary>
    public TimeSpan WhatsAppReceiptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Upper bound for steps that only wait for the provider's acceptance.</summary>
    public TimeSpan SentTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
