using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Core.Rules;

/// <summary>Where the router finds a tenant's current compiled rule set (storage and change fan-out plug in here).</summary>
public interface IRuleSetSource
{
    /// <summary>The tenant's current rule set, or null when it has none.</summary>
    CompiledRuleSet? For(Guid tenantId);
}

/// <summary>One rule set for every tenant: tests, the benchmark, single-tenant setups.</summary>
public sealed class FixedRuleSetSource(CompiledRuleSet ruleSet) : IRuleSetSource
{
    public CompiledRuleSet? For(Guid tenantId) => ruleSet;
}

/// <summary>
/// The rule engine behind <see cref="IRouter"/>: the default route (SPEC §2) with the tenant's matching rules'
/// priority and channel plan applied. Actions a <see cref="Route"/> cannot carry (suppress, delay, TTL, templates…)
/// are planned by <see cref="Planning.NotificationPlanner"/>, which ingest and the dry run share.
/// </summary>
/// <param name="onError">Told about rules that failed at run time (e.g. a pattern timeout), for logs and metrics.</param>
public sealed class RuleRouter(IRuleSetSource source, DefaultRouter fallback, TimeProvider time, Action<RuleRuntimeError>? onError = null) : IRouter
{
    public Route Decide(NewNotification notification) =>
        Decide(new RuleContext(notification, null, time.GetUtcNow()));

    public Route Decide(RuleContext context) =>
        (source.For(context.Notification.TenantId) ?? CompiledRuleSet.Empty).Decide(context, fallback, onError);

    /// <summary>The full decision against the tenant's current set, or against <paramref name="draft"/> for a dry run.</summary>
    public RuleEvaluation Evaluate(RuleContext context, CompiledRuleSet? draft = null) =>
        (draft ?? source.For(context.Notification.TenantId) ?? CompiledRuleSet.Empty).Evaluate(context, fallback);
}
