namespace Herald.Server.Digests;

/// <summary>Digest logging; event ids 4350-4369.</summary>
internal static partial class DigestsLog
{
    [LoggerMessage(4350, LogLevel.Debug, "Notification {NotificationId} collapsed into its digest")]
    public static partial void Digested(this ILogger logger, Guid notificationId);
}
