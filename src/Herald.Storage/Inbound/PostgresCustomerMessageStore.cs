using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresCustomerMessageStore(NpgsqlDataSource dataSource, TenantKeys keys) : ICustomerMessageStore
{
    /// <summary>Customer message columns, 13 of them, for <see cref="ReadMessage"/>; the table is aliased <c>m</c>.</summary>
    internal const string MessageColumns =
        "m.id, m.tenant_id, m.account_id, m.channel, m.sender, m.provider_message_id, m.notification_id, m.action_id, m.text, m.late, m.customer_id, m.received_at, m.sealed";

    /// <summary>How many columns <see cref="MessageColumns"/> names, for a query that selects more after them.</summary>
    internal const int MessageColumnCount = 13;

    public async Task<IReadOnlyList<bool>> AddAsync(IReadOnlyList<CustomerMessage> messages, CancellationToken ct)
    {
        if (messages.Count == 0)
        {
            return [];
        }

        // One statement for the whole batch: a burst of replies costs one round trip, and the trigger records each new
        // row's webhook event in the same transaction. A vendor's retry conflicts and is skipped. Sender and text are
        // stored sealed (CustomerMessageSeal).
        var tenantKeys = new Dictionary<Guid, TenantKeySet>();
        foreach (var m in messages)
        {
            if (!tenantKeys.ContainsKey(m.TenantId))
            {
                tenantKeys[m.TenantId] = await keys.ForWriteAsync(m.TenantId, ct);
            }
        }

        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO customer_messages (id, tenant_id, account_id, channel, sender, provider_message_id, notification_id, action_id,
                text, late, customer_id, received_at, sealed, sender_hash)
            SELECT * FROM unnest(@id, @tenant, @account, @channel, @sender, @pmid, @notification, @action, @text, @late, @customer, @received,
                @sealed, @sender_hash)
            ON CONFLICT (account_id, provider_message_id) DO NOTHING
            RETURNING id
            """);
        cmd.Parameters.Add(Array("id", NpgsqlDbType.Uuid, messages.Select(m => m.Id).ToArray()));
        cmd.Parameters.Add(Array("tenant", NpgsqlDbType.Uuid, messages.Select(m => m.TenantId).ToArray()));
        cmd.Parameters.Add(Array("account", NpgsqlDbType.Uuid, messages.Select(m => m.AccountId).ToArray()));
        cmd.Parameters.Add(Array("channel", NpgsqlDbType.Smallint, messages.Select(m => (short)m.Channel).ToArray()));
        cmd.Parameters.Add(Array("sender", NpgsqlDbType.Text, messages.Select(_ => "").ToArray()));
        cmd.Parameters.Add(Array("pmid", NpgsqlDbType.Text, messages.Select(m => m.ProviderMessageId).ToArray()));
        cmd.Parameters.Add(Array("notification", NpgsqlDbType.Uuid, messages.Select(m => m.NotificationId).ToArray()));
        cmd.Parameters.Add(Array("action", NpgsqlDbType.Text, messages.Select(m => m.ActionId).ToArray()));
        cmd.Parameters.Add(Array("text", NpgsqlDbType.Text, messages.Select(m => m.Text is null ? null : "").ToArray()));
        cmd.Parameters.Add(Array("late", NpgsqlDbType.Boolean, messages.Select(m => m.Late).ToArray()));
        cmd.Parameters.Add(Array("customer", NpgsqlDbType.Text, messages.Select(m => m.CustomerId).ToArray()));
        cmd.Parameters.Add(Array("received", NpgsqlDbType.TimestampTz, messages.Select(m => Utc(m.ReceivedAt)).ToArray()));
        cmd.Parameters.Add(Array("sealed", NpgsqlDbType.Bytea, messages.Select(m => CustomerMessageSeal.Seal(tenantKeys[m.TenantId], m)).ToArray()));
        cmd.Parameters.Add(Array("sender_hash", NpgsqlDbType.Bytea, messages.Select(m => CustomerMessageSeal.SenderHash(tenantKeys[m.TenantId], m.From)).ToArray()));
        var inserted = new HashSet<Guid>(await cmd.ReadAllAsync(static r => r.GetGuid(0), ct));
        return [.. messages.Select(m => inserted.Contains(m.Id))];
    }

    public async Task<IReadOnlySet<string>> StoredProviderIdsAsync(Guid accountId, IReadOnlyList<string> providerMessageIds, CancellationToken ct)
    {
        if (providerMessageIds.Count == 0)
        {
            return new HashSet<string>();
        }

        await using var cmd = dataSource.CreateCommand(
            "SELECT provider_message_id FROM customer_messages WHERE account_id = @account AND provider_message_id = ANY (@ids)");
        cmd.Parameters.Add(Param("account", accountId));
        cmd.Parameters.Add(Array("ids", NpgsqlDbType.Text, providerMessageIds.ToArray()));
        return new HashSet<string>(await cmd.ReadAllAsync(static r => r.GetString(0), ct), StringComparer.Ordinal);
    }

    public async Task<Notification?> FindOpenQuestionAsync(
        Guid tenantId, Guid accountId, Channel channel, string phone, DateTimeOffset now, CancellationToken ct)
    {
        // notifications_open_question_hash holds only notifications that ask something, by tenant, phone hash and reply
        // time; rows from before encryption at rest (sealed IS NULL) answer through notifications_open_questions.
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct);
        await using var cmd = dataSource.CreateCommand(
            $"""
            SELECT {NotificationColumns} FROM notifications n
            WHERE n.tenant_id = @tenant AND n.actions IS NOT NULL AND n.reply_until > @now
              AND (n.phone_hash = @phone_hash OR (n.sealed IS NULL AND (n.contacts ->> 'phone') = @phone))
              AND EXISTS (SELECT 1 FROM attempts a WHERE a.notification_id = n.id AND a.provider_id = @account AND a.channel = @channel)
            ORDER BY n.created_at DESC, n.id DESC
            LIMIT 1
            """);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("phone", phone));
        cmd.Parameters.Add(Param("phone_hash", NpgsqlDbType.Bytea, ContactHash.Compute(tenantKeys, ContactKind.Phone, phone)));
        cmd.Parameters.Add(Param("now", Utc(now)));
        cmd.Parameters.Add(Param("account", accountId));
        cmd.Parameters.Add(Param("channel", (short)channel));
        return await cmd.ReadFirstAsync(r => ReadNotification(r, keys), ct);
    }

    public async Task<string?> FindSentMessageIdAsync(Guid notificationId, Channel channel, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT a.provider_message_id FROM attempts a
            WHERE a.notification_id = @notification AND a.channel = @channel AND a.provider_message_id IS NOT NULL
            ORDER BY a.created_at DESC, a.id DESC LIMIT 1
            """);
        cmd.Parameters.Add(Param("notification", notificationId));
        cmd.Parameters.Add(Param("channel", (short)channel));
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    public async Task<IReadOnlyList<CustomerMessage>> ListRepliesAsync(Guid tenantId, Guid notificationId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"SELECT {MessageColumns} FROM customer_messages m WHERE m.notification_id = @notification AND m.tenant_id = @tenant ORDER BY m.id");
        cmd.Parameters.Add(Param("notification", notificationId));
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await cmd.ReadAllAsync(r => ReadMessage(r, keys), ct);
    }

    public async Task<IReadOnlyList<CustomerMessage>> ListConversationAsync(
        Guid tenantId, string customerId, IReadOnlyList<string> addresses, Guid? before, int limit, CancellationToken ct)
    {
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct);
        await using var cmd = dataSource.CreateCommand(
            $"""
            SELECT {MessageColumns} FROM customer_messages m
            WHERE m.tenant_id = @tenant
              AND (m.customer_id = @customer OR m.sender_hash = ANY (@hashes) OR (m.sealed IS NULL AND m.sender = ANY (@addresses)))
              AND (@before::uuid IS NULL OR m.id < @before)
            ORDER BY m.id DESC
            LIMIT @limit
            """);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("customer", customerId));
        cmd.Parameters.Add(Array("addresses", NpgsqlDbType.Text, addresses.ToArray()));
        cmd.Parameters.Add(Array("hashes", NpgsqlDbType.Bytea, CustomerMessageSeal.SenderHashes(tenantKeys, addresses)));
        cmd.Parameters.Add(Param("before", NpgsqlDbType.Uuid, before));
        cmd.Parameters.Add(Param("limit", Math.Clamp(limit, 1, 500)));
        return await cmd.ReadAllAsync(r => ReadMessage(r, keys), ct);
    }

    /// <summary>Reads a customer message; a sealed one (issue #17) is decrypted with the tenant's keys.</summary>
    internal static CustomerMessage ReadMessage(NpgsqlDataReader r, TenantKeys keys, int o = 0) =>
        CustomerMessageSeal.Open(keys, ReadMessageColumns(r, o), r.IsDBNull(o + 12) ? null : r.GetFieldValue<byte[]>(o + 12));

    private static CustomerMessage ReadMessageColumns(NpgsqlDataReader r, int o) => new(
        r.GetGuid(o),
        r.GetGuid(o + 1),
        r.GetGuid(o + 2),
        (Channel)r.GetInt16(o + 3),
        r.GetString(o + 4),
        r.GetString(o + 5),
        NullableGuid(r, o + 6),
        NullableString(r, o + 7),
        NullableString(r, o + 8),
        r.GetBoolean(o + 9),
        NullableString(r, o + 10),
        r.GetFieldValue<DateTimeOffset>(o + 11));
}
