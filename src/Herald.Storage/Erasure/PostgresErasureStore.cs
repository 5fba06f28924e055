using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresErasureStore(NpgsqlDataSource dataSource, TenantKeys keys, ChangeFeed changes) : IErasureStore
{
    // The target: the stored customer's id, or the inline phone or email by their keyed hashes (issue #17). Rows written
    // before encryption at rest (sealed IS NULL) are still matched by their plaintext until `herald reencrypt` moved them.
    // Null parameters match nothing.
    private const string Matches =
        "(n.customer_id = @customer OR n.phone_hash = @phone_hash OR n.email_hash = @email_hash " +
        "OR (n.sealed IS NULL AND (n.contacts->>'phone' = @phone OR n.contacts->>'email' = @email)))";

    private static readonly string InFlightSql =
        $"SELECT n.id FROM notifications n WHERE n.tenant_id = @tenant AND {Matches} AND {StateSql.NotFinal("n.status")} ORDER BY n.id LIMIT @max";

    private const string TargetSql =
        $"""
        SELECT n.id, n.contacts::text, n.data::text, n.sealed FROM notifications n
        WHERE n.tenant_id = @tenant AND n.id > @after AND {Matches}
        ORDER BY n.id LIMIT @batch
        FOR UPDATE
        """;

    // The redacted values (ErasureRedaction) replace contacts and data; the envelope and the contact hashes go.
    private const string RedactSql =
        """
        UPDATE notifications n SET contacts = r.contacts, data = r.data, sealed = NULL, phone_hash = NULL, email_hash = NULL
        FROM unnest(@ids, @contacts, @data) AS r(id, contacts, data)
        WHERE n.id = r.id
        """;

    // What the customer sent in (issue #16): its text and its address become the marker; the answer's link, action id,
    // lateness and times stay. Messages from the address, of the stored customer, or answering its notifications. A sealed
    // message keeps '' in text when it had a text, NULL when not, so the test on NULL holds for both kinds of row.
    private const string RedactMessagesSql =
        $$"""
        UPDATE customer_messages m SET text = CASE WHEN m.text IS NULL THEN NULL ELSE @marker END, sender = @marker,
            sealed = NULL, sender_hash = NULL
        WHERE m.tenant_id = @tenant AND m.sender <> @marker
          AND (m.customer_id = @customer OR m.sender_hash = @phone_sender OR m.sender_hash = @email_sender
               OR (m.sealed IS NULL AND (m.sender = @phone OR m.sender = @email))
               OR m.notification_id IN (SELECT n.id FROM notifications n WHERE n.tenant_id = @tenant AND {{Matches}}))
        """;

    public async Task<int> RedactMessagesAsync(Guid tenantId, ErasureTarget target, CancellationToken ct)
    {
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await RedactMessagesAsync(connection, tenantKeys, target, ct);
    }

    private static async Task<int> RedactMessagesAsync(NpgsqlConnection connection, TenantKeySet tenantKeys, ErasureTarget target, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(RedactMessagesSql, connection);
        Bind(cmd, tenantKeys, target);
        cmd.Parameters.Add(Param("phone_sender", NpgsqlDbType.Bytea, ContactHash.Compute(tenantKeys, ContactKind.Sender, target.Phone)));
        cmd.Parameters.Add(Param("email_sender", NpgsqlDbType.Bytea, ContactHash.Compute(tenantKeys, ContactKind.Sender, target.Email)));
        cmd.Parameters.Add(Param("marker", IErasureStore.Marker));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<IReadOnlyList<Guid>> InFlightAsync(Guid tenantId, ErasureTarget target, int max, CancellationToken ct)
    {
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct);
        await using var cmd = dataSource.CreateCommand(InFlightSql);
        Bind(cmd, tenantKeys, target);
        cmd.Parameters.Add(Param("max", max));
        return await cmd.ReadAllAsync(static r => r.GetGuid(0), ct);
    }

    public async Task<(int Redacted, Guid? Last)> RedactAsync(Guid tenantId, ErasureTarget target, Guid? after, int batch, CancellationToken ct)
    {
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var result = await RedactBatchAsync(conn, tenantKeys, target, after, batch, ct);
        await tx.CommitAsync(ct);
        return result;
    }

    public async Task<ErasureCounts> EraseAsync(
        Guid tenantId, ErasureTarget target, IReadOnlyList<(Channel Channel, string Address)> consentAddresses, AuditChange audit, CancellationToken ct)
    {
        const int batch = 500;
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct);
        var announce = new List<Change>();
        ErasureCounts counts;
        await using (var conn = await dataSource.OpenConnectionAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            var deleted = false;
            if (target.CustomerId is { } customerId)
            {
                await using var delete = new NpgsqlCommand("DELETE FROM customers WHERE tenant_id = @tenant AND id = @id", conn);
                delete.Parameters.Add(Param("tenant", tenantId));
                delete.Parameters.Add(Param("id", customerId));
                deleted = await delete.ExecuteNonQueryAsync(ct) > 0;
                if (deleted && StoreChanges.Customer(tenantId, customerId) is { } customerChange)
                {
                    announce.Add(customerChange);
                }
            }

            // Batches keep each statement's arrays small; they all belong to this one transaction.
            var notifications = 0;
            Guid? after = null;
            int count;
            do
            {
                (count, var last) = await RedactBatchAsync(conn, tenantKeys, target, after, batch, ct);
                notifications += count;
                after = last ?? after;
            }
            while (count == batch);

            // What the customer sent in, after its notifications: the answers to them are found through them.
            var messages = await RedactMessagesAsync(conn, tenantKeys, target, ct);
            var consents = await PostgresConsentStore.RedactAsync(conn, tenantKeys, target.CustomerId, consentAddresses, ct);
            if (consents > 0)
            {
                announce.Add(StoreChanges.Consents(tenantId));
            }

            // Last, as every store takes the chain's lock: after the rows it changes.
            await PostgresAuditStore.AppendAsync(conn, audit, ct);
            foreach (var change in announce)
            {
                await ChangeFeed.NotifyAsync(conn, change, ct);
            }

            await tx.CommitAsync(ct);
            counts = new ErasureCounts(deleted, notifications, messages, consents);
        }

        foreach (var change in announce)
        {
            await changes.CommittedAsync(change);
        }

        return counts;
    }

    private async Task<(int Redacted, Guid? Last)> RedactBatchAsync(
        NpgsqlConnection conn, TenantKeySet tenantKeys, ErasureTarget target, Guid? after, int batch, CancellationToken ct)
    {
        var tenantId = tenantKeys.TenantId;
        var ids = new List<Guid>();
        var contacts = new List<string>();
        var data = new List<string>();
        await using (var select = new NpgsqlCommand(TargetSql, conn))
        {
            Bind(select, tenantKeys, target);
            select.Parameters.Add(Param("after", after ?? Guid.Empty));
            select.Parameters.Add(Param("batch", batch));
            await using var r = await select.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var id = r.GetGuid(0);
                var (c, d) = ErasureRedaction.Of(keys, tenantId, id, r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetFieldValue<byte[]>(3));
                ids.Add(id);
                contacts.Add(c);
                data.Add(d);
            }
        }

        if (ids.Count > 0)
        {
            await using var update = new NpgsqlCommand(RedactSql, conn);
            update.Parameters.Add(Array("ids", NpgsqlDbType.Uuid, ids.ToArray()));
            update.Parameters.Add(Array("contacts", NpgsqlDbType.Jsonb, contacts.ToArray()));
            update.Parameters.Add(Array("data", NpgsqlDbType.Jsonb, data.ToArray()));
            await update.ExecuteNonQueryAsync(ct);
        }

        return (ids.Count, ids.Count == 0 ? null : ids.Max());
    }

    private static void Bind(NpgsqlCommand cmd, TenantKeySet tenantKeys, ErasureTarget target)
    {
        var (phoneHash, emailHash) = ErasureRedaction.Hashes(tenantKeys, target);
        cmd.Parameters.Add(Param("tenant", tenantKeys.TenantId));
        cmd.Parameters.Add(new NpgsqlParameter<string?>("customer", target.CustomerId) { NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter<string?>("phone", target.Phone) { NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter<string?>("email", target.Email) { NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(Param("phone_hash", NpgsqlDbType.Bytea, phoneHash));
        cmd.Parameters.Add(Param("email_hash", NpgsqlDbType.Bytea, emailHash));
    }
}
