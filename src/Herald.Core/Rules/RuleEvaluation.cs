using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Core.Rules;

/// <summary>A rule whose condition could not be evaluated for one notification; it counts as not matched.</summary>
public sealed record RuleRuntimeError(int RuleIndex, string RuleName, string Message)
{
    /// <summary>The tenant whose rule failed.</summary>
    public Guid TenantId { get; init; }

    /// <summary>The version of the rule set the rule belongs to.</summary>
    public long RuleSetVersion { get; init; }
}

/// <summary>Everything the matching rules decided; null fields were decided by no rule.</summary>
/// <param name="Channels">The rule's channel plan, already filtered to channels the customer has an address for.</param>
/// <param name="Tags">Tags of every matching rule, in rule order, without duplicates.</param>
/// <param name="DecidedBy">For each decided action (e.g. <c>priority</c>, <c>template.sms</c>), the rule that decided it.</param>
public sealed record RuleDecision(
    Priority? Priority,
    IReadOnlyList<RouteStep>? Channels,
    TimeSpan? Ttl,
    QuietHoursPolicy? QuietHours,
    CostPolicy? CostPolicy,
    bool Suppress,
    TimeSpan? Delay,
    IReadOnlyList<string> Tags,
    IReadOnlyDictionary<Channel, string> Templates,
    IReadOnlyDictionary<string, string> DecidedBy)
{
    /// <summary>Data fields masked at ingest, from every matching rule, without duplicates.</summary>
    public IReadOnlyList<string> Mask { get; init; } = [];

    /// <summary>The digest in force; null when no rule sets one or the final priority is critical.</summary>
    public DigestPolicy? Digest { get; init; }

    /// <summary>The throttle in force; null when no rule sets one or the final priority is critical.</summary>
    public ThrottlePolicy? Throttle { get; init; }

    /// <summary>The rules' opt-out policy; null when no rule decides (the node's fallback applies).</summary>
    public OptOutPolicy? OptOuts { get; init; }

    /// <summary>The reply choices a rule gives (<c>then.actions</c>); null when no rule decides.</summary>
    public IReadOnlyList<NotificationAction>? ReplyActions { get; init; }
}

/// <summary>What ingest applies: the route, and the actions a <see cref="Route"/> cannot carry.</summary>
/// <param name="Suppress">Store the notification as suppressed and never send it.</param>
/// <param name="Delay">Hold the first send back by this long.</param>
/// <param name="Ttl">The notification expires this long after it was accepted (or at its own expiresAt if sooner).</param>
/// <param name="Mask">Data fields to mask before the notification is stored (see <see cref="DataMasking"/>).</param>
public sealed record RuleOutcome(Route Route, bool Suppress, TimeSpan? Delay, TimeSpan? Ttl, IReadOnlyList<string>? Mask)
{
    /// <summary>The digest in force (never for critical priority).</summary>
    public DigestPolicy? Digest { get; init; }

    /// <summary>The throttle in force (never for critical priority).</summary>
    public ThrottlePolicy? Throttle { get; init; }

    /// <summary>The rules' opt-out policy; null when no rule decides (the node's fallback applies).</summary>
    public OptOutPolicy? OptOuts { get; init; }

    /// <summary>The reply choices a rule gives (<c>then.actions</c>); null when no rule decides.</summary>
    public IReadOnlyList<NotificationAction>? ReplyActions { get; init; }

    public static RuleOutcome Of(Route route) => new(route, false, null, null, null);

    /// <summary>What ingest applies of a full evaluation (the dry run's): every action, the digest included.</summary>
    public static RuleOutcome Of(RuleEvaluation evaluation)
    {
        var d = evaluation.Decision;
        return new RuleOutcome(evaluation.Route, d.Suppress, d.Delay, d.Ttl, d.Mask)
        {
            Digest = d.Digest,
            Throttle = d.Throttle,
            OptOuts = d.OptOuts,
            ReplyActions = d.ReplyActions,
        };
    }
}

/// <summary>The outcome of running a rule set over one notification: the dry-run view of SPEC §3.</summary>
/// <param name="Route">The final route: the default route with the rules' priority and channel plan applied.</param>
/// <param name="MatchedRules">Names of the rules whose condition held, in evaluation order (up to a <c>stop</c>).</param>
/// <param name="DataInvalid">The notification's data was not a JSON object, so every data path was missing.</param>
public sealed record RuleEvaluation(
    long RuleSetVersion,
    Route Route,
    RuleDecision Decision,
    IReadOnlyList<string> MatchedRules,
    IReadOnlyList<RuleRuntimeError> Errors,
    bool DataInvalid);
