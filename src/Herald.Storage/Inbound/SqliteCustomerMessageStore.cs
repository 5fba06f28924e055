using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteCustomerMessageStore(SqliteDatabase db, TenantKeys keys) : ICustomerMessageStore
{
    internal const string MessageColumns =
        "m.id, m.tenant_id, m.account_id, m.channel, m.sender, m.provider_message_id, m.notification_id, m.action_id, m.text, m.late, m.customer_id, m.received_at, m.sealed";

    public async Task<IReadOnlyList<bool>> AddAsync(IReadOnlyList<CustomerMessage> messages, CancellationToken ct)
    {
        if (messages.Count == 0)
        {
            return [];
        }

        // Keys first: creating a tenant's keys is a write of its own. Sender and text are stored sealed (CustomerMessageSeal).
        var tenantKeys = new Dictionary<Guid, TenantKeySet>();
        foreach (var m in messages)
        {
            if (!tenantKeys.ContainsKey(m.TenantId))
            {
                tenantKeys[m.TenantId] = await keys.ForWriteAsync(m.TenantId, ct).ConfigureAwait(false);
            }
        }

        return await db.WriteAsync<IReadOnlyList<bool>>(
            scope =>
            {
                // The trigger records each new row's webhook event in this transaction; a vendor's retry is skipped.
                var insert = scope.Command(
                    """
                    INSERT INTO customer_messages (id, tenant_id, account_id, channel, sender, provider_message_id, notification_id, action_id,
                        text, late, customer_id, received_at, sealed, sender_hash)
                    VALUES ($id, $tenant, $account, $channel, '', $pmid, $notification, $action, $text, $late, $customer, $received, $sealed, $sender_hash)
                    ON CONFLICT (account_id, provider_message_id) DO NOTHING
                    """);
                var added = new bool[messages.Count];
                for (var i = 0; i < messages.Count; i++)
                {
                    var m = messages[i];
                    added[i] = insert
                        .Set("$id", SqliteValues.Id(m.Id))
                        .Set("$tenant", SqliteValues.Id(m.TenantId))
                        .Set("$account", SqliteValues.Id(m.AccountId))
                        .Set("$channel", (int)m.Channel)
                        .Set("$pmid", m.ProviderMessageId)
                        .Set("$notification", SqliteValues.Id(m.NotificationId))
                        .Set("$action", SqliteValues.Text(m.ActionId))
                        .Set("$text", m.Text is null ? DBNull.Value : "")
                        .Set("$sealed", CustomerMessageSeal.Seal(tenantKeys[m.TenantId], m))
                        .Set("$sender_hash", CustomerMessageSeal.SenderHash(tenantKeys[m.TenantId], m.From))
                        .Set("$late", m.Late ? 1 : 0)
                        .Set("$customer", SqliteValues.Text(m.CustomerId))
                        .Set("$received", SqliteValues.Ms(m.ReceivedAt))
                        .ExecuteNonQuery() == 1;
                }

                return added;
            },
            ct).ConfigureAwait(false);
    }

    public Task<IReadOnlySet<string>> StoredProviderIdsAsync(Guid accountId, IReadOnlyList<string> providerMessageIds, CancellationToken ct) =>
        db.ReadAsync<IReadOnlySet<string>>(
            connection =>
            {
                var found = new HashSet<string>(StringComparer.Ordinal);
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT 1 FROM customer_messages WHERE account_id = $account AND provider_message_id = $id";
                foreach (var id in providerMessageIds.Distinct(StringComparer.Ordinal))
                {
                    if (command.Set("$account", SqliteValues.Id(accountId)).Set("$id", id).ExecuteScalar() is not null)
                    {
                        found.Add(id);
                    }
                }

                return found;
            },
            ct);

    public async Task<Notification?> FindOpenQuestionAsync(
        Guid tenantId, Guid accountId, Channel channel, string phone, DateTimeOffset now, CancellationToken ct)
    {
        var phoneHash = ContactHash.Compute(await keys.ForWriteAsync(tenantId, ct).ConfigureAwait(false), ContactKind.Phone, phone);
        return await db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText =
                    $"""
                    SELECT {SqliteValues.NotificationColumns} FROM notifications n
                    WHERE n.tenant_id = $tenant AND n.actions IS NOT NULL AND n.reply_until > $now
                      AND (n.phone_hash = $phone_hash OR (n.sealed IS NULL AND json_extract(n.contacts, '$.phone') = $phone))
                      AND EXISTS (SELECT 1 FROM attempts a WHERE a.notification_id = n.id AND a.provider_id = $account AND a.channel = $channel)
                    ORDER BY n.created_at DESC, n.id DESC
                    LIMIT 1
                    """;
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$phone", phone).Set("$phone_hash", phoneHash).Set("$now", SqliteValues.Ms(now))
                    .Set("$account", SqliteValues.Id(accountId)).Set("$channel", (int)channel);
                return command.ReadFirst(r => SqliteValues.ReadNotification(r, keys));
            },
            ct).ConfigureAwait(false);
    }

    public Task<string?> FindSentMessageIdAsync(Guid notificationId, Channel channel, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText =
                    "SELECT a.provider_message_id FROM attempts a WHERE a.notification_id = $notification AND a.channel = $channel " +
                    "AND a.provider_message_id IS NOT NULL ORDER BY a.created_at DESC, a.id DESC LIMIT 1";
                command.Set("$notification", SqliteValues.Id(notificationId)).Set("$channel", (int)channel);
                return command.ExecuteScalar() as string;
            },
            ct);

    public Task<IReadOnlyList<CustomerMessage>> ListRepliesAsync(Guid tenantId, Guid notificationId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<CustomerMessage>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {MessageColumns} FROM customer_messages m WHERE m.notification_id = $notification AND m.tenant_id = $tenant ORDER BY m.id";
                command.Set("$notification", SqliteValues.Id(notificationId)).Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadAll(r => ReadMessage(r, keys));
            },
            ct);

    public async Task<IReadOnlyList<CustomerMessage>> ListConversationAsync(
        Guid tenantId, string customerId, IReadOnlyList<string> addresses, Guid? before, int limit, CancellationToken ct)
    {
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct).ConfigureAwait(false);
        return await db.ReadAsync<IReadOnlyList<CustomerMessage>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                // The addresses are at most a phone and a chat id: one parameter each, by hash (sealed rows) and by text
                // (rows from before encryption at rest).
                var senders = string.Join(", ", addresses.Select((_, i) => "$a" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                var hashes = string.Join(", ", addresses.Select((_, i) => "$h" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                command.CommandText =
                    $"SELECT {MessageColumns} FROM customer_messages m WHERE m.tenant_id = $tenant " +
                    $"AND (m.customer_id = $customer{(addresses.Count > 0 ? $" OR m.sender_hash IN ({hashes}) OR (m.sealed IS NULL AND m.sender IN ({senders}))" : "")}) " +
                    "AND ($before IS NULL OR m.id < $before) ORDER BY m.id DESC LIMIT $limit";
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$customer", customerId)
                    .Set("$before", SqliteValues.Id(before)).Set("$limit", Math.Clamp(limit, 1, 500));
                for (var i = 0; i < addresses.Count; i++)
                {
                    command.Set("$a" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), addresses[i]);
                    command.Set("$h" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), CustomerMessageSeal.SenderHash(tenantKeys, addresses[i]));
                }

                return command.ReadAll(r => ReadMessage(r, keys));
            },
            ct).ConfigureAwait(false);
    }

    /// <summary>Reads a customer message; a sealed one (issue #17) is decrypted with the tenant's keys.</summary>
    internal static CustomerMessage ReadMessage(SqliteDataReader r, TenantKeys keys) =>
        CustomerMessageSeal.Open(keys, ReadMessageColumns(r), r.IsDBNull(12) ? null : (byte[])r.GetValue(12));

    private static CustomerMessage ReadMessageColumns(SqliteDataReader r) => new(
        r.GetId(0),
        r.GetId(1),
        r.GetId(2),
        (Channel)r.GetInt16(3),
        r.GetString(4),
        r.GetString(5),
        r.GetIdOrNull(6),
        r.GetStringOrNull(7),
        r.GetStringOrNull(8),
        r.GetInt64(9) != 0,
        r.GetStringOrNull(10),
        r.GetTime(11));
}
