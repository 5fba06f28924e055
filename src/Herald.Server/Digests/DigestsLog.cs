namespace Herald.Server.Digests;

/// <summary>Digest logging; event ids 4350-4369.</summary>
internal static partial class DigestsLog
{
    [LoggerMessage(4350, LogLevel.Debug, "Notification {NotificationId} collapsed into its digest")]
    public static partial void Digested(this ILogger logger, Guid notificationId);
}

/// <summary>Digest housekeeping logging; event ids 5030-5039 (counts only).</summary>
internal static partial class DigestHousekeepingLog
{
    [LoggerMessage(5030, LogLevel.Information, "Deleted {Count} member row(s) of sent digest windows past their retention")]
    public static partial void DigestRowsDeleted(this ILogger logger, int count);

    [LoggerMessage(5031, LogLevel.Warning, "Digest housekeeping failed; retrying at the next interval")]
    public static partial void DigestCleanupFailed(this ILogger logger, Exception exception);
}
