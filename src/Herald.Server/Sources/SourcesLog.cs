namespace Herald.Server.Sources;

/// <summary>Source-generated log messages of the sources feature (event ids 4400-4449). Ids and counts only.</summary>
internal static partial class SourcesLog
{
    [LoggerMessage(4400, LogLevel.Information, "Source {SourceId} ({Adapter}) saved for tenant {TenantId}")]
    public static partial void SourceSaved(this ILogger logger, Guid sourceId, string adapter, Guid tenantId);

    [LoggerMessage(4401, LogLevel.Information, "Source {SourceId} deleted for tenant {TenantId}")]
    public static partial void SourceDeleted(this ILogger logger, Guid sourceId, Guid tenantId);

    [LoggerMessage(4402, LogLevel.Information, "Signing secret of source {SourceId} rotated")]
    public static partial void SecretRotated(this ILogger logger, Guid sourceId);

    [LoggerMessage(4410, LogLevel.Warning, "Request to source {SourceId} refused: {Reason}")]
    public static partial void RequestRefused(this ILogger logger, Guid sourceId, string reason);

    [LoggerMessage(4411, LogLevel.Information, "Document for source {SourceId} refused with {Count} error(s)")]
    public static partial void DocumentRefused(this ILogger logger, Guid sourceId, int count);

    [LoggerMessage(4420, LogLevel.Information, "File for source {SourceId}: {Accepted} accepted, {Duplicate} duplicate, {Rejected} rejected of {Lines} lines")]
    public static partial void FileIngested(this ILogger logger, Guid sourceId, long accepted, long duplicate, long rejected, long lines);

    [LoggerMessage(5040, LogLevel.Error, "File for source {SourceId} interrupted after {Accepted} accepted lines, decided through line {Line}; a re-upload skips what was stored")]
    public static partial void FileInterrupted(this ILogger logger, Guid sourceId, long accepted, int line, Exception exception);
}
