using System.Collections.Concurrent;
using Herald.Core.Rules;

namespace Herald.Server.Rules;

/// <summary>Counts every rule stopped at run time and logs it: the first time per tenant, version and rule as a
/// warning, later ones not at all, so one hostile rule cannot flood the log while it runs on every message.</summary>
public sealed class RuleErrorReporter(RuleMetrics metrics, ILogger<RuleErrorReporter> logger)
{
    private const int MaxRemembered = 10_000;
    private readonly ConcurrentDictionary<(Guid, long, int), byte> _reported = new();

    public void Report(RuleRuntimeError error)
    {
        metrics.RuntimeError(error);
        if (_reported.Count >= MaxRemembered)
        {
            _reported.Clear();
        }

        if (_reported.TryAdd((error.TenantId, error.RuleSetVersion, error.RuleIndex), 0))
        {
            logger.RuleRuntimeError(error.TenantId, error.RuleSetVersion, error.RuleIndex, error.RuleName, error.Message);
        }
    }
}
