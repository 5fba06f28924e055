using System.Diagnostics.Metrics;
using Herald.Core.Rules;

namespace Herald.Server.Rules;

/// <summary>Rule instruments on Herald's meter (exported on /metrics with the others).</summary>
public sealed class RuleMetrics : IDisposable
{
    private readonly Meter _meter = new(HeraldMetrics.MeterName);
    private readonly Counter<long> _runtimeErrors;
    private readonly Counter<long> _compiled;
    private readonly Counter<long> _suppressed;

    public RuleMetrics()
    {
        _runtimeErrors = _meter.CreateCounter<long>("herald.rules.runtime_errors",
            description: "Rules stopped while evaluating a notification (pattern timeout, text limit) and counted as not matched.");
        _compiled = _meter.CreateCounter<long>("herald.rules.compiled", description: "Rule-set versions compiled by this node.");
        _suppressed = _meter.CreateCounter<long>("herald.rules.suppressed", description: "Notifications a rule suppressed at ingest.");
    }

    public void RuntimeError(RuleRuntimeError error) => _runtimeErrors.Add(1);

    public void Compiled() => _compiled.Add(1);

    public void Suppressed() => _suppressed.Add(1);

    public void Dispose() => _meter.Dispose();
}
