using Herald.Core.Notifications;

namespace Herald.Core.Routing;

/// <summary>One channel in a route's plan.</summary>
/// <param name="Timeout">How long to wait for <paramref name="WaitFor"/> before moving to the next step.</param>
public sealed record RouteStep(Channel Channel, WaitFor WaitFor, TimeSpan Timeout);

/// <summary>What the tenant's rules decided for one notification.</summary>
/// <remarks>The members beyond the priority and the plan are null when no rule decided them: delivery then uses its
/// defaults (the preferred provider, quiet hours respected unless the type is critical, the default wording).</remarks>
public sealed record Route(Priority Priority, IReadOnlyList<RouteStep> Steps)
{
    /// <summary>How a provider is chosen among the channel's healthy accounts.</summary>
    public CostPolicy? CostPolicy { get; init; }

    /// <summary>Whether the customer's quiet hours hold this notification back.</summary>
    public QuietHoursPolicy? QuietHours { get; init; }

    /// <summary>Template name per channel, as the rules chose it.</summary>
    public IReadOnlyDictionary<Channel, string>? Templates { get; init; }

    /// <summary>Tags of the matching rules, for search and reports.</summary>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>The digest window this notification joined at ingest (a rule's <c>digest</c> action); null otherwise.</summary>
    public DigestMembership? Digest { get; init; }

    /// <summary>The throttle group this notification counts in when it is sent (a rule's <c>throttle</c> action); null otherwise.</summary>
    public ThrottleMembership? Throttle { get; init; }

    /// <summary>Why the route is what it is: the rule set version and, per part of the route the rules decided
    /// (<c>priority</c>, <c>channels</c>, <c>costPolicy</c>, <c>quietHours</c>, <c>template.{channel}</c>), the rule that
    /// decided it; null when no rule decided anything (the defaults did). Kept with the notification, so its trace shows
    /// the rule that matched then, not one that matches now.</summary>
    public RouteProvenance? DecidedBy { get; init; }
}

/// <summary>The rule set version that decided a route, and which of its rules decided each part.</summary>
public sealed record RouteProvenance(long RuleSetVersion, IReadOnlyDictionary<string, string> Rules);

/// <summary>A notification's place in a digest: the window of <paramref name="Key"/> closing at <paramref name="ClosesAt"/>.</summary>
public sealed record DigestMembership(string Key, DateTimeOffset ClosesAt);

/// <summary>A notification's throttle: at most <paramref name="Max"/> sends of the group <paramref name="Key"/> (type, customer
/// and optionally a data value) per <paramref name="Per"/>; decided by the worker when the notification is about to be sent.</summary>
public sealed record ThrottleMembership(string Key, int Max, TimeSpan Per);

/// <summary>How a notification treats the customer's quiet hours.</summary>
public enum QuietHoursPolicy
{
    /// <summary>Hold the message until quiet hours end.</summary>
    Wait,
    /// <summary>Send during quiet hours anyway (fraud alerts, OTPs).</summary>
    Override,
}

/// <summary>How a provider is chosen among the healthy ones of a channel.</summary>
public enum CostPolicy
{
    Cheapest,
    Fastest,
    Preferred,
}

/// <summary>The routing seam: the rule engine plugs in here. Pure and fast; called on the ingest path.</summary>
public interface IRouter
{
    Route Decide(NewNotification notification);
}
