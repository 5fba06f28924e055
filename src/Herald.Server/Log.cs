namespace Herald.Server;

/// <summary>Source-generated log messages. Never log contacts, message text or keys: ids only.</summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Herald starting: role {Role}, storage {Storage}")]
    public static partial void Starting(this ILogger logger, string role, string storage);

    [LoggerMessage(1001, LogLevel.Information, "Schema migrations applied")]
    public static partial void Migrated(this ILogger logger);

    [LoggerMessage(1002, LogLevel.Warning, "The secrets key file {KeyFile} is in the database's folder {Folder}: a backup or copy of that folder carries the key that decrypts it. Keep the key elsewhere (Herald:Secrets:KeyFile or Herald:Secrets:Key), see docs/OPERATIONS.md")]
    public static partial void KeyBesideDatabase(this ILogger logger, string keyFile, string folder);

    [LoggerMessage(1100, LogLevel.Error, "Group commit of {Count} notifications failed")]
    public static partial void CommitFailed(this ILogger logger, int count, Exception exception);

    [LoggerMessage(1101, LogLevel.Warning, "Group commit of {Count} notifications refused for a data reason ({Code}); storing its halves apart")]
    public static partial void CommitSplit(this ILogger logger, int count, string code);

    [LoggerMessage(1102, LogLevel.Warning, "Notification {NotificationId} refused by storage ({Code}); its sender gets a 400")]
    public static partial void ItemRefused(this ILogger logger, Guid notificationId, string code);

    [LoggerMessage(1200, LogLevel.Error, "Delivery loop failed; retrying")]
    public static partial void DeliveryLoopFailed(this ILogger logger, Exception exception);

    [LoggerMessage(1201, LogLevel.Warning, "Notification {NotificationId} was in flight on a lost worker: {Count} send(s) may be duplicated")]
    public static partial void InFlightResend(this ILogger logger, Guid notificationId, int count);

    [LoggerMessage(1202, LogLevel.Information, "Worker draining: finishing in-flight sends")]
    public static partial void Draining(this ILogger logger);

    [LoggerMessage(1203, LogLevel.Error, "Queue maintenance failed; retrying")]
    public static partial void MaintenanceFailed(this ILogger logger, Exception exception);

    [LoggerMessage(1301, LogLevel.Warning, "Receipt for {ProviderMessageId} could not be applied after {Tries} tries")]
    public static partial void ReceiptConflict(this ILogger logger, string providerMessageId, int tries);

    [LoggerMessage(1302, LogLevel.Information, "A batch of {Count} receipts hit a transient database error ({Error}); applying them one by one")]
    public static partial void ReceiptBatchRetried(this ILogger logger, int count, string error);

    [LoggerMessage(1400, LogLevel.Information, "Tenant {TenantId} created with {Count} sandbox provider accounts")]
    public static partial void TenantCreated(this ILogger logger, Guid tenantId, int count);
}
