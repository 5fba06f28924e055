using Herald.Storage.Secrets;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

internal sealed class PostgresReencryptionStore(NpgsqlDataSource dataSource, TenantKeys keys, TimeProvider time) : IReencryptionStore
{
    // Rows are locked (FOR UPDATE), not skipped: a skipped row would fall behind the cursor and stay as it is. The text
    // id is named "key": unnamed, it would be the output column "id" that ORDER BY sorts by, a text sort of every row
    // past the cursor instead of a walk of the primary key (each batch read the rest of the table: quadratic).
    internal const string SelectNotifications =
        "SELECT id::text AS key, tenant_id, contacts::text, data::text, sealed FROM notifications WHERE id > @after::uuid ORDER BY id LIMIT @batch FOR UPDATE";

    private const string UpdateNotifications =
        """
        UPDATE notifications n SET sealed = u.sealed, contacts = jsonb_build_object(), data = jsonb_build_object(),
            phone_hash = CASE WHEN u.hashed THEN u.phone_hash ELSE n.phone_hash END,
            email_hash = CASE WHEN u.hashed THEN u.email_hash ELSE n.email_hash END
        FROM unnest(@ids, @sealed, @phone_hash, @email_hash, @hashed) AS u(id, sealed, phone_hash, email_hash, hashed)
        WHERE n.id = u.id
        """;

    internal const string SelectMessages =
        "SELECT id::text AS key, tenant_id, sender, text, sealed FROM customer_messages WHERE id > @after::uuid ORDER BY id LIMIT @batch FOR UPDATE";

    private const string UpdateMessages =
        """
        UPDATE customer_messages m SET sealed = u.sealed, sender = '',
            text = CASE WHEN u.hashed THEN (CASE WHEN m.text IS NULL THEN NULL ELSE '' END) ELSE m.text END,
            sender_hash = CASE WHEN u.hashed THEN u.sender_hash ELSE m.sender_hash END
        FROM unnest(@ids, @sealed, @sender_hash, @hashed) AS u(id, sealed, sender_hash, hashed)
        WHERE m.id = u.id
        """;

    // Customers' key is (tenant, id): the cursor is "tenant id|customer id".
    private const string SelectCustomers =
        """
        SELECT tenant_id::text || '|' || id, tenant_id, id, document::text, sealed FROM customers
        WHERE (tenant_id, id) > (@after_tenant, @after_id) ORDER BY tenant_id, id LIMIT @batch FOR UPDATE
        """;

    private const string UpdateCustomers =
        """
        UPDATE customers c SET sealed = u.sealed, document = jsonb_build_object()
        FROM unnest(@tenants, @ids, @sealed) AS u(tenant_id, id, sealed)
        WHERE c.tenant_id = u.tenant_id AND c.id = u.id
        """;

    public async Task<ReencryptionBatch> RunBatchAsync(ReencryptionTable table, int batch, CancellationToken ct)
    {
        if (table == ReencryptionTable.Consents)
        {
            return await RunConsentsBatchAsync(batch, ct);
        }

        var name = Reencrypt.Name(table);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        string? after;
        await using (var cursor = new NpgsqlCommand("SELECT cursor FROM reencryption_progress WHERE name = @name FOR UPDATE", conn, tx))
        {
            cursor.Parameters.Add(Param("name", name));
            after = await cursor.ExecuteScalarAsync(ct) as string;
        }

        var rows = new List<Row>();
        await using (var select = new NpgsqlCommand(table switch
        {
            ReencryptionTable.Notifications => SelectNotifications,
            ReencryptionTable.CustomerMessages => SelectMessages,
            _ => SelectCustomers,
        }, conn, tx))
        {
            if (table == ReencryptionTable.Customers)
            {
                var split = after?.IndexOf('|', StringComparison.Ordinal) ?? -1;
                select.Parameters.Add(Param("after_tenant", split < 0 ? Guid.Empty : Guid.Parse(after![..split])));
                select.Parameters.Add(Param("after_id", split < 0 ? "" : after![(split + 1)..]));
            }
            else
            {
                select.Parameters.Add(Param("after", after ?? Guid.Empty.ToString()));
            }

            select.Parameters.Add(Param("batch", batch));
            await using var r = await select.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                rows.Add(table == ReencryptionTable.Customers
                    ? new Row(r.GetString(0), r.GetGuid(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetFieldValue<byte[]>(4))
                    : new Row(r.GetString(0), r.GetGuid(1), r.GetString(2), NullableString(r, 3), r.IsDBNull(4) ? null : r.GetFieldValue<byte[]>(4)));
            }
        }

        var changed = new List<(Row Row, byte[] Sealed, byte[]? Hash1, byte[]? Hash2, bool Hashed)>();
        foreach (var row in rows)
        {
            var k = await keys.ForWriteAsync(row.TenantId, ct);
            if (row.Sealed is { } s && !Reencrypt.Stale(k, s))
            {
                continue;
            }

            switch (table)
            {
                case ReencryptionTable.Notifications when row.Sealed is null:
                    var (sealedNotification, phone, email) = Reencrypt.Notification(k, Guid.Parse(row.Key), Reencrypt.Compact(row.A), Reencrypt.Compact(row.B!));
                    changed.Add((row, sealedNotification, phone, email, true));
                    break;
                case ReencryptionTable.Notifications:
                    changed.Add((row, Reencrypt.Notification(keys, k, Guid.Parse(row.Key), row.Sealed), null, null, false));
                    break;
                case ReencryptionTable.CustomerMessages when row.Sealed is null:
                    var (sealedMessage, sender) = Reencrypt.Message(k, Guid.Parse(row.Key), row.A, row.B);
                    changed.Add((row, sealedMessage, sender, null, true));
                    break;
                case ReencryptionTable.CustomerMessages:
                    changed.Add((row, Reencrypt.Message(keys, k, Guid.Parse(row.Key), row.Sealed), null, null, false));
                    break;
                default:
                    changed.Add((row, Reencrypt.Customer(keys, k, row.A, row.B!, row.Sealed), null, null, false));
                    break;
            }
        }

        if (changed.Count > 0)
        {
            await using var update = new NpgsqlCommand(table switch
            {
                ReencryptionTable.Notifications => UpdateNotifications,
                ReencryptionTable.CustomerMessages => UpdateMessages,
                _ => UpdateCustomers,
            }, conn, tx);
            update.Parameters.Add(Array("sealed", NpgsqlDbType.Bytea, changed.Select(c => c.Sealed).ToArray()));
            if (table == ReencryptionTable.Customers)
            {
                update.Parameters.Add(Array("tenants", NpgsqlDbType.Uuid, changed.Select(c => c.Row.TenantId).ToArray()));
                update.Parameters.Add(Array("ids", NpgsqlDbType.Text, changed.Select(c => c.Row.A).ToArray()));
            }
            else
            {
                update.Parameters.Add(Array("ids", NpgsqlDbType.Uuid, changed.Select(c => Guid.Parse(c.Row.Key)).ToArray()));
                update.Parameters.Add(Array("hashed", NpgsqlDbType.Boolean, changed.Select(c => c.Hashed).ToArray()));
                if (table == ReencryptionTable.Notifications)
                {
                    update.Parameters.Add(Array("phone_hash", NpgsqlDbType.Bytea, changed.Select(c => c.Hash1).ToArray()));
                    update.Parameters.Add(Array("email_hash", NpgsqlDbType.Bytea, changed.Select(c => c.Hash2).ToArray()));
                }
                else
                {
                    update.Parameters.Add(Array("sender_hash", NpgsqlDbType.Bytea, changed.Select(c => c.Hash1).ToArray()));
                }
            }

            await update.ExecuteNonQueryAsync(ct);
        }

        var done = rows.Count < batch;
        await using (var progress = new NpgsqlCommand(done
            ? "DELETE FROM reencryption_progress WHERE name = @name"
            : "INSERT INTO reencryption_progress (name, cursor, updated_at) VALUES (@name, @cursor, @now) ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            conn, tx))
        {
            progress.Parameters.Add(Param("name", name));
            progress.Parameters.Add(Param("cursor", rows.Count == 0 ? "" : rows[^1].Key));
            progress.Parameters.Add(Param("now", Utc(time.GetUtcNow())));
            await progress.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return new ReencryptionBatch(rows.Count, changed.Count, done);
    }

    /// <summary>The consent ledger's pass (issue #17): its own small method, as the ledger's rows are (address, envelope,
    /// hash) and its append-only trigger admits exactly these changes (migration 0034).</summary>
    private async Task<ReencryptionBatch> RunConsentsBatchAsync(int batch, CancellationToken ct)
    {
        var name = Reencrypt.Name(ReencryptionTable.Consents);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        string? after;
        await using (var cursor = new NpgsqlCommand("SELECT cursor FROM reencryption_progress WHERE name = @name FOR UPDATE", conn, tx))
        {
            cursor.Parameters.Add(Param("name", name));
            after = await cursor.ExecuteScalarAsync(ct) as string;
        }

        var rows = new List<(Guid Id, Guid TenantId, string Address, byte[]? Sealed, byte[]? Hash)>();
        await using (var select = new NpgsqlCommand(
            "SELECT id, tenant_id, address, sealed, address_hash FROM consents WHERE id > @after::uuid ORDER BY id LIMIT @batch FOR UPDATE", conn, tx))
        {
            select.Parameters.Add(Param("after", string.IsNullOrEmpty(after) ? Guid.Empty.ToString() : after));
            select.Parameters.Add(Param("batch", batch));
            await using var r = await select.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                rows.Add((r.GetGuid(0), r.GetGuid(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetFieldValue<byte[]>(3),
                    r.IsDBNull(4) ? null : r.GetFieldValue<byte[]>(4)));
            }
        }

        var changed = new List<(Guid Id, byte[] Sealed, byte[]? Hash)>();
        foreach (var row in rows)
        {
            if (Reencrypt.Consent(keys, await keys.ForWriteAsync(row.TenantId, ct), row.Id, row.Address, row.Sealed, row.Hash) is { } update)
            {
                changed.Add((row.Id, update.Sealed, update.Hash));
            }
        }

        if (changed.Count > 0)
        {
            await using var update = new NpgsqlCommand(
                """
                UPDATE consents c SET address = '', sealed = u.sealed, address_hash = u.address_hash
                FROM unnest(@ids, @sealed, @hashes) AS u(id, sealed, address_hash)
                WHERE c.id = u.id
                """, conn, tx);
            update.Parameters.Add(Array("ids", NpgsqlDbType.Uuid, changed.Select(c => c.Id).ToArray()));
            update.Parameters.Add(Array("sealed", NpgsqlDbType.Bytea, changed.Select(c => c.Sealed).ToArray()));
            update.Parameters.Add(Array("hashes", NpgsqlDbType.Bytea, changed.Select(c => c.Hash).ToArray()));
            await update.ExecuteNonQueryAsync(ct);
        }

        var done = rows.Count < batch;
        await using (var progress = new NpgsqlCommand(done
            ? "DELETE FROM reencryption_progress WHERE name = @name"
            : "INSERT INTO reencryption_progress (name, cursor, updated_at) VALUES (@name, @cursor, @now) ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            conn, tx))
        {
            progress.Parameters.Add(Param("name", name));
            progress.Parameters.Add(Param("cursor", rows.Count == 0 ? "" : rows[^1].Id.ToString()));
            progress.Parameters.Add(Param("now", Utc(time.GetUtcNow())));
            await progress.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return new ReencryptionBatch(rows.Count, changed.Count, done);
    }

    public async Task ResetAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM reencryption_progress");
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>A row as read: its cursor key, tenant and values (notifications: contacts, data; messages: sender,
    /// text; customers: id, document) and envelope.</summary>
    private sealed record Row(string Key, Guid TenantId, string A, string? B, byte[]? Sealed);
}
