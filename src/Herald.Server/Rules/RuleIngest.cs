using System.Collections.Concurrent;
using Herald.Core.Notifications;
using Herald.Core.Rules;
using Herald.Storage;

namespace Herald.Server.Rules;

/// <summary>What a rule decision does to a notification at ingest, beyond its route (issue #4): masks data, caps
/// the expiry by the TTL, suppresses, delays the first send. Pure, so the dry run shows exactly what ingest stores.</summary>
public static class RuleIngest
{
    public static PreparedNotification Prepare(Guid id, NewNotification notification, RuleOutcome outcome, DateTimeOffset now)
    {
        var request = notification;
        if (outcome.Mask is { Count: > 0 } mask)
        {
            request = request with { DataJson = DataMasking.Apply(request.DataJson, mask) };
        }

        if (outcome.Ttl is { } ttl && (request.ExpiresAt is null || now + ttl < request.ExpiresAt))
        {
            request = request with { ExpiresAt = now + ttl };
        }

        return new PreparedNotification(id, request, outcome.Route)
        {
            Suppressed = outcome.Suppress,
            NotBefore = outcome.Delay is { } delay && delay > TimeSpan.Zero ? now + delay : null,
        };
    }
}

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
