using System.Globalization;
using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

/// <summary>Column encodings (see Migrations/0001_initial.sql) and row readers shared by the SQLite stores.</summary>
internal static class SqliteValues
{
    // Guids are bound as text explicitly: Microsoft.Data.Sqlite would bind a Guid as a 16-byte blob.
    public static string Id(Guid id) => id.ToString("D");

    public static object Id(Guid? id) => id is { } value ? Id(value) : DBNull.Value;

    public static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    public static object Ms(DateTimeOffset? time) => time is { } value ? Ms(value) : DBNull.Value;

    public static object Text(string? text) => text is null ? DBNull.Value : text;

    public static object Money(decimal? value) => value is { } v ? v.ToString(CultureInfo.InvariantCulture) : DBNull.Value;

    public static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    /// <summary>Sets a named parameter, adding it on first use (commands are cached and reused).</summary>
    public static SqliteCommand Set(this SqliteCommand command, string name, object? value)
    {
        value ??= DBNull.Value;
        var parameters = command.Parameters;
        for (var i = 0; i < parameters.Count; i++)
        {
            if (string.Equals(parameters[i].ParameterName, name, StringComparison.Ordinal))
            {
                parameters[i].Value = value;
                return command;
            }
        }

        parameters.AddWithValue(name, value);
        return command;
    }

    public static Guid GetId(this SqliteDataReader reader, int ordinal) => Guid.ParseExact(reader.GetString(ordinal), "D");

    public static Guid? GetIdOrNull(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetId(ordinal);

    public static string? GetStringOrNull(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static DateTimeOffset GetTime(this SqliteDataReader reader, int ordinal) => Time(reader.GetInt64(ordinal));

    public static DateTimeOffset? GetTimeOrNull(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetTime(ordinal);

    public const string NotificationColumns =
        "n.id, n.tenant_id, n.source_id, n.type, n.customer_id, n.contacts, n.data, n.priority, n.expires_at, n.external_id, " +
        "n.route, n.status, n.channel, n.step, n.retries, n.awaited_attempt_id, n.version, n.created_at, n.updated_at, n.actions, n.reply_until, n.trace_parent, n.sealed";

    /// <summary>Reads a notification; a sealed one (issue #17) is decrypted with the tenant's keys.</summary>
    public static Notification ReadNotification(SqliteDataReader r, TenantKeys keys)
    {
        var notification = ReadNotificationColumns(r);
        if (r.IsDBNull(22))
        {
            return notification;
        }

        var (contacts, data) = NotificationSeal.Open(keys, notification.TenantId, notification.Id, (byte[])r.GetValue(22));
        return notification with { Contacts = SqliteJson.Contacts(contacts), DataJson = data };
    }

    private static Notification ReadNotificationColumns(SqliteDataReader r) => new()
    {
        Id = r.GetId(0),
        TenantId = r.GetId(1),
        SourceId = r.GetIdOrNull(2),
        Type = r.GetString(3),
        CustomerId = r.GetStringOrNull(4),
        Contacts = SqliteJson.Contacts(r.GetString(5)),
        DataJson = r.GetString(6),
        Priority = (Priority)r.GetInt16(7),
        ExpiresAt = r.GetTimeOrNull(8),
        ExternalId = r.GetStringOrNull(9),
        Route = SqliteJson.Route(r.GetString(10)),
        Status = (NotificationStatus)r.GetInt16(11),
        Channel = r.IsDBNull(12) ? null : (Channel)r.GetInt16(12),
        Progress = new DeliveryProgress(r.GetInt32(13), r.GetInt32(14), r.GetIdOrNull(15)),
        Version = r.GetInt32(16),
        CreatedAt = r.GetTime(17),
        UpdatedAt = r.GetTime(18),
        Actions = StorageJson.DeserializeActions(r.GetStringOrNull(19)),
        ReplyUntil = r.GetTimeOrNull(20),
        TraceParent = r.GetStringOrNull(21),
    };

    public const string AttemptColumns =
        "a.id, a.notification_id, a.step, a.channel, a.provider_id, a.provider_name, a.provider_message_id, a.state, " +
        "a.failure_kind, a.error_code, a.error, a.cost, a.created_at, a.sent_at, a.delivered_at, a.updated_at";

    public static Attempt ReadAttempt(SqliteDataReader r) => new()
    {
        Id = r.GetId(0),
        NotificationId = r.GetId(1),
        Step = r.GetInt32(2),
        Channel = (Channel)r.GetInt16(3),
        ProviderId = r.GetIdOrNull(4),
        ProviderName = r.GetStringOrNull(5),
        ProviderMessageId = r.GetStringOrNull(6),
        State = (AttemptState)r.GetInt16(7),
        FailureKind = r.GetStringOrNull(8),
        ErrorCode = r.GetStringOrNull(9),
        Error = r.GetStringOrNull(10),
        Cost = r.IsDBNull(11) ? null : decimal.Parse(r.GetString(11), NumberStyles.Number, CultureInfo.InvariantCulture),
        CreatedAt = r.GetTime(12),
        SentAt = r.GetTimeOrNull(13),
        DeliveredAt = r.GetTimeOrNull(14),
        UpdatedAt = r.GetTime(15),
    };

    public static List<T> ReadAll<T>(this SqliteCommand command, Func<SqliteDataReader, T> read)
    {
        var list = new List<T>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            list.Add(read(reader));
        }

        return list;
    }

    public static T? ReadFirst<T>(this SqliteCommand command, Func<SqliteDataReader, T> read)
        where T : class
    {
        using var reader = command.ExecuteReader();
        return reader.Read() ? read(reader) : null;
    }
}
