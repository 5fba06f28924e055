namespace Herald.Server;

/// <summary>Log messages of customers, quiet hours and templates (event ids 4300-4349). Ids only: never contacts,
/// message text or customer fields.</summary>
internal static partial class CustomersLog
{
    [LoggerMessage(4300, LogLevel.Debug, "Notification {NotificationId} held by quiet hours until {Until}")]
    public static partial void QuietHoursHeld(this ILogger logger, Guid notificationId, DateTimeOffset until);

    [LoggerMessage(4310, LogLevel.Warning, "Template {TemplateId} v{Version} failed for notification {NotificationId} ({Error}); sent the default text")]
    public static partial void TemplateFailed(this ILogger logger, Guid templateId, int version, Guid notificationId, string error);

    [LoggerMessage(4312, LogLevel.Warning, "Template {TemplateId} v{Version} broke its limits for notification {NotificationId} ({Code}, {Field}); the attempt fails")]
    public static partial void TemplateLimitBroken(this ILogger logger, Guid templateId, int version, Guid notificationId, string code, string field);

    [LoggerMessage(4311, LogLevel.Warning, "Templates of tenant {TenantId} could not be loaded; using the cached or default wording")]
    public static partial void TemplatesLoadFailed(this ILogger logger, Guid tenantId, Exception exception);
}
