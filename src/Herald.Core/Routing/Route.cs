using Herald.Core.Notifications;

namespace Herald.Core.Routing;

/// <summary>One channel in a route's plan.</summary>
/// <param name="Timeout">How long to wait for <paramref name="WaitFor"/> before moving to the next step.</param>
public sealed record RouteStep(Channel Channel, WaitFor WaitFor, TimeSpan Timeout);

/// <summary>What the tenant's rules decided for one notification.</summary>
public sealed record Route(Priority Priority, IReadOnlyList<RouteStep> Steps);

/// <summary>The routing seam: the rule engine plugs in here. Pure and fast; called on the ingest path.</summary>
public interface IRouter
{
    Route Decide(NewNotification notification);
}
