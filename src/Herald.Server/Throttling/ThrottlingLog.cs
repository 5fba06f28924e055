namespace Herald.Server.Throttling;

/// <summary>Throttle logging; event ids 5000-5019.</summary>
internal static partial class ThrottlingLog
{
    [LoggerMessage(5000, LogLevel.Debug, "Notification {NotificationId} throttled")]
    public static partial void Throttled(this ILogger logger, Guid notificationId);

    [LoggerMessage(5001, LogLevel.Debug, "Throttle cleanup removed {Count} sends older than {Before}")]
    public static partial void ThrottleCleaned(this ILogger logger, int count, DateTimeOffset before);

    [LoggerMessage(5002, LogLevel.Warning, "Throttle cleanup failed; it runs again next period")]
    public static partial void ThrottleCleanupFailed(this ILogger logger, Exception exception);
}
