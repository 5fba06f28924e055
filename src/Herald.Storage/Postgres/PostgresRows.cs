using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Storage.Postgres;

/// <summary>Column lists and readers shared by the stores, so every query maps rows the same way.</summary>
internal static class PostgresRows
{
    /// <summary>Notification columns, 23 of them, for <see cref="ReadNotification"/>; the table is aliased <c>n</c>.</summary>
    public const string NotificationColumns =
        "n.id, n.tenant_id, n.source_id, n.type, n.customer_id, n.contacts::text, n.data::text, n.priority, n.expires_at, " +
        "n.external_id, n.route::text, n.status, n.channel, n.step, n.retries, n.awaited_attempt_id, n.version, n.created_at, n.updated_at, " +
        "n.actions::text, n.reply_until, n.trace_parent, n.sealed";

    public const int NotificationColumnCount = 23;

    /// <summary>Attempt columns, 16 of them, for <see cref="ReadAttempt"/>; the table is aliased <c>a</c>.</summary>
    public const string AttemptColumns =
        "a.id, a.notification_id, a.step, a.channel, a.provider_id, a.provider_name, a.provider_message_id, a.state, " +
        "a.failure_kind, a.error_code, a.error, a.cost, a.created_at, a.sent_at, a.delivered_at, a.updated_at";

    /// <summary>Reads a notification; a sealed one (issue #17) is decrypted with the tenant's keys.</summary>
    public static Notification ReadNotification(NpgsqlDataReader r, TenantKeys keys, int o = 0)
    {
        var notification = ReadNotificationColumns(r, o);
        if (r.IsDBNull(o + 22))
        {
            return notification;
        }

        var (contacts, data) = NotificationSeal.Open(keys, notification.TenantId, notification.Id, r.GetFieldValue<byte[]>(o + 22));
        return notification with { Contacts = StorageJson.DeserializeContacts(contacts), DataJson = data };
    }

    private static Notification ReadNotificationColumns(NpgsqlDataReader r, int o) => new()
    {
        Id = r.GetGuid(o),
        TenantId = r.GetGuid(o + 1),
        SourceId = NullableGuid(r, o + 2),
        Type = r.GetString(o + 3),
        CustomerId = NullableString(r, o + 4),
        Contacts = StorageJson.DeserializeContacts(r.GetString(o + 5)),
        DataJson = r.GetString(o + 6),
        Priority = (Priority)r.GetInt16(o + 7),
        ExpiresAt = NullableTime(r, o + 8),
        ExternalId = NullableString(r, o + 9),
        Route = StorageJson.DeserializeRoute(r.GetString(o + 10)),
        Status = (NotificationStatus)r.GetInt16(o + 11),
        Channel = r.IsDBNull(o + 12) ? null : (Channel)r.GetInt16(o + 12),
        Progress = new DeliveryProgress(r.GetInt32(o + 13), r.GetInt32(o + 14), NullableGuid(r, o + 15)),
        Version = r.GetInt32(o + 16),
        CreatedAt = r.GetFieldValue<DateTimeOffset>(o + 17),
        UpdatedAt = r.GetFieldValue<DateTimeOffset>(o + 18),
        Actions = StorageJson.DeserializeActions(NullableString(r, o + 19)),
        ReplyUntil = NullableTime(r, o + 20),
        TraceParent = NullableString(r, o + 21),
    };

    public static Attempt ReadAttempt(NpgsqlDataReader r, int o = 0) => new()
    {
        Id = r.GetGuid(o),
        NotificationId = r.GetGuid(o + 1),
        Step = r.GetInt32(o + 2),
        Channel = (Channel)r.GetInt16(o + 3),
        ProviderId = NullableGuid(r, o + 4),
        ProviderName = NullableString(r, o + 5),
        ProviderMessageId = NullableString(r, o + 6),
        State = (AttemptState)r.GetInt16(o + 7),
        FailureKind = NullableString(r, o + 8),
        ErrorCode = NullableString(r, o + 9),
        Error = NullableString(r, o + 10),
        Cost = r.IsDBNull(o + 11) ? null : r.GetDecimal(o + 11),
        CreatedAt = r.GetFieldValue<DateTimeOffset>(o + 12),
        SentAt = NullableTime(r, o + 13),
        DeliveredAt = NullableTime(r, o + 14),
        UpdatedAt = r.GetFieldValue<DateTimeOffset>(o + 15),
    };

    /// <summary>Reads <c>provider_id, provider_message_id, state, error_code, error, received_at</c> from column <paramref name="o"/>.</summary>
    public static PendingReceipt ReadPendingReceipt(NpgsqlDataReader r, int o = 0) => new(
        r.GetGuid(o),
        r.GetString(o + 1),
        (ReceiptState)r.GetInt16(o + 2),
        NullableString(r, o + 3),
        NullableString(r, o + 4),
        r.GetFieldValue<DateTimeOffset>(o + 5));

    /// <summary>Every row of the command's result, each mapped by <paramref name="read"/> (the twin of
    /// <c>SqliteValues.ReadAll</c>).</summary>
    public static async Task<List<T>> ReadAllAsync<T>(this NpgsqlCommand command, Func<NpgsqlDataReader, T> read, CancellationToken ct)
    {
        await using var r = await command.ExecuteReaderAsync(ct);
        var list = new List<T>();
        while (await r.ReadAsync(ct))
        {
            list.Add(read(r));
        }

        return list;
    }

    /// <summary>The first row of the command's result mapped by <paramref name="read"/>, or null when there is none.</summary>
    public static async Task<T?> ReadFirstAsync<T>(this NpgsqlCommand command, Func<NpgsqlDataReader, T> read, CancellationToken ct)
        where T : class
    {
        await using var r = await command.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? read(r) : null;
    }

    public static Guid? NullableGuid(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetGuid(i);

    public static string? NullableString(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    public static DateTimeOffset? NullableTime(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);

    /// <summary>Npgsql writes only UTC <see cref="DateTimeOffset"/> values to timestamptz.</summary>
    /// <summary>A time as stored: UTC, truncated to the whole millisecond (the contract's precision; timestamptz
    /// itself would keep microseconds). Every time written or compared goes through here.</summary>
    public static DateTimeOffset Utc(DateTimeOffset t) =>
        new(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);

    public static DateTimeOffset? Utc(DateTimeOffset? t) => t is { } value ? Utc(value) : null;

    public static NpgsqlParameter Param<T>(string name, T value) => new NpgsqlParameter<T>(name, value);

    public static NpgsqlParameter Param(string name, NpgsqlDbType type, object? value) =>
        new(name, type) { Value = value ?? DBNull.Value };

    public static NpgsqlParameter Array(string name, NpgsqlDbType elementType, object value) =>
        new(name, NpgsqlDbType.Array | elementType) { Value = value };

    /// <summary>Writes the attempt fields as parallel arrays for an <c>unnest</c> insert.</summary>
    public static void AddAttemptArrays(NpgsqlParameterCollection p, IReadOnlyList<Attempt> attempts)
    {
        var n = attempts.Count;
        var id = new Guid[n];
        var notification = new Guid[n];
        var step = new int[n];
        var channel = new short[n];
        var providerId = new Guid?[n];
        var providerName = new string?[n];
        var providerMessageId = new string?[n];
        var state = new short[n];
        var failureKind = new string?[n];
        var errorCode = new string?[n];
        var error = new string?[n];
        var cost = new decimal?[n];
        var created = new DateTimeOffset[n];
        var sent = new DateTimeOffset?[n];
        var delivered = new DateTimeOffset?[n];
        var updated = new DateTimeOffset[n];
        for (var i = 0; i < n; i++)
        {
            var a = attempts[i];
            id[i] = a.Id;
            notification[i] = a.NotificationId;
            step[i] = a.Step;
            channel[i] = (short)a.Channel;
            providerId[i] = a.ProviderId;
            providerName[i] = a.ProviderName;
            providerMessageId[i] = a.ProviderMessageId;
            state[i] = (short)a.State;
            failureKind[i] = a.FailureKind;
            errorCode[i] = a.ErrorCode;
            error[i] = a.Error;
            cost[i] = a.Cost;
            created[i] = Utc(a.CreatedAt);
            sent[i] = Utc(a.SentAt);
            delivered[i] = Utc(a.DeliveredAt);
            updated[i] = Utc(a.UpdatedAt == default ? a.CreatedAt : a.UpdatedAt);
        }

        p.Add(Array("a_id", NpgsqlDbType.Uuid, id));
        p.Add(Array("a_notification", NpgsqlDbType.Uuid, notification));
        p.Add(Array("a_step", NpgsqlDbType.Integer, step));
        p.Add(Array("a_channel", NpgsqlDbType.Smallint, channel));
        p.Add(Array("a_provider_id", NpgsqlDbType.Uuid, providerId));
        p.Add(Array("a_provider_name", NpgsqlDbType.Text, providerName));
        p.Add(Array("a_provider_message_id", NpgsqlDbType.Text, providerMessageId));
        p.Add(Array("a_state", NpgsqlDbType.Smallint, state));
        p.Add(Array("a_failure_kind", NpgsqlDbType.Text, failureKind));
        p.Add(Array("a_error_code", NpgsqlDbType.Text, errorCode));
        p.Add(Array("a_error", NpgsqlDbType.Text, error));
        p.Add(Array("a_cost", NpgsqlDbType.Numeric, cost));
        p.Add(Array("a_created", NpgsqlDbType.TimestampTz, created));
        p.Add(Array("a_sent", NpgsqlDbType.TimestampTz, sent));
        p.Add(Array("a_delivered", NpgsqlDbType.TimestampTz, delivered));
        p.Add(Array("a_updated", NpgsqlDbType.TimestampTz, updated));
    }

    /// <summary>The <c>unnest</c> of <see cref="AddAttemptArrays"/> as a row source aliased <c>x</c>.</summary>
    public const string AttemptUnnest =
        "unnest(@a_id, @a_notification, @a_step, @a_channel, @a_provider_id, @a_provider_name, @a_provider_message_id, @a_state, " +
        "@a_failure_kind, @a_error_code, @a_error, @a_cost, @a_created, @a_sent, @a_delivered, @a_updated) " +
        "AS x(id, notification_id, step, channel, provider_id, provider_name, provider_message_id, state, " +
        "failure_kind, error_code, error, cost, created_at, sent_at, delivered_at, updated_at)";

    public const string AttemptInsertColumns =
        "id, notification_id, tenant_id, step, channel, provider_id, provider_name, provider_message_id, state, " +
        "failure_kind, error_code, error, cost, created_at, sent_at, delivered_at, updated_at";

    public const string AttemptSelectFromX =
        "x.id, x.notification_id, {0}, x.step, x.channel, x.provider_id, x.provider_name, x.provider_message_id, x.state, " +
        "x.failure_kind, x.error_code, x.error, x.cost, x.created_at, x.sent_at, x.delivered_at, x.updated_at";
}
