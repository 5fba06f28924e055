namespace Herald.Server.Rules;

/// <summary>Rule log messages (event ids 4200-4249). Rule names and ids only: never notification data.</summary>
internal static partial class RulesLog
{
    [LoggerMessage(4200, LogLevel.Information, "Rule sets loaded for {Count} tenant(s)")]
    public static partial void RulesLoaded(this ILogger logger, int count);

    [LoggerMessage(4201, LogLevel.Warning, "Synchronising rule sets with the store failed; the poll retries")]
    public static partial void RulesSyncFailed(this ILogger logger, Exception exception);

    [LoggerMessage(4202, LogLevel.Information, "Tenant {TenantId} now uses rule set version {Version} (via {Via})")]
    public static partial void RulesChangeApplied(this ILogger logger, Guid tenantId, long version, string via);

    [LoggerMessage(4203, LogLevel.Error, "Stored rule set version {Version} of tenant {TenantId} no longer compiles ({Count} error(s)); the previous set stays in use")]
    public static partial void StoredRuleSetInvalid(this ILogger logger, Guid tenantId, long version, int count);

    [LoggerMessage(4206, LogLevel.Warning, "Rule {RuleIndex} '{RuleName}' of tenant {TenantId}, version {Version}, was stopped at run time and counted as not matched: {Message}")]
    public static partial void RuleRuntimeError(this ILogger logger, Guid tenantId, long version, int ruleIndex, string ruleName, string message);

    [LoggerMessage(4207, LogLevel.Information, "Tenant {TenantId} stored rule set version {Version} ({Author})")]
    public static partial void RulesChanged(this ILogger logger, Guid tenantId, long version, string author);
}
