using Herald.Storage.Secrets;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteReencryptionStore(SqliteDatabase db, TenantKeys keys) : IReencryptionStore
{
    private const string SelectNotifications =
        "SELECT id, tenant_id, contacts, data, sealed FROM notifications WHERE id > $after ORDER BY id LIMIT $batch";

    private const string SelectMessages =
        "SELECT id, tenant_id, sender, text, sealed FROM customer_messages WHERE id > $after ORDER BY id LIMIT $batch";

    // Customers' key is (tenant, id): the cursor is "tenant id|customer id".
    private const string SelectCustomers =
        "SELECT tenant_id || '|' || id, tenant_id, id, document, sealed FROM customers " +
        "WHERE tenant_id > $after_tenant OR (tenant_id = $after_tenant AND id > $after_id) ORDER BY tenant_id, id LIMIT $batch";

    public async Task<ReencryptionBatch> RunBatchAsync(ReencryptionTable table, int batch, CancellationToken ct)
    {
        if (table == ReencryptionTable.Consents)
        {
            return await RunConsentsBatchAsync(batch, ct).ConfigureAwait(false);
        }

        // The tenants' keys first (creating keys is a write of its own): the batch as it is now names them; a row that
        // changes before the write below is read again there.
        var preview = await db.ReadAsync(
            connection => Select(
                sql =>
                {
                    var command = connection.CreateCommand();
                    command.CommandText = sql;
                    return command;
                },
                table,
                batch),
            ct).ConfigureAwait(false);
        var tenantKeys = new Dictionary<Guid, TenantKeySet>();
        foreach (var row in preview)
        {
            if (!tenantKeys.ContainsKey(row.TenantId))
            {
                tenantKeys[row.TenantId] = await keys.ForWriteAsync(row.TenantId, ct).ConfigureAwait(false);
            }
        }

        return await db.WriteAsync(
            scope =>
            {
                var rows = Select(scope.OneOff, table, batch);
                var rewritten = 0;
                foreach (var row in rows)
                {
                    if (!tenantKeys.TryGetValue(row.TenantId, out var k) || (row.Sealed is { } s && !Reencrypt.Stale(k, s)))
                    {
                        // A tenant first seen in this second read wrote its row sealed (new rows always are).
                        continue;
                    }

                    rewritten++;
                    switch (table)
                    {
                        case ReencryptionTable.Notifications when row.Sealed is null:
                            var (sealedNotification, phone, email) = Reencrypt.Notification(k, Guid.Parse(row.Key), Reencrypt.Compact(row.A), Reencrypt.Compact(row.B!));
                            scope.Command("UPDATE notifications SET sealed = $sealed, contacts = '{}', data = '{}', phone_hash = $phone, email_hash = $email WHERE id = $id")
                                .Set("$id", row.Key).Set("$sealed", sealedNotification).Set("$phone", phone).Set("$email", email).ExecuteNonQuery();
                            break;
                        case ReencryptionTable.Notifications:
                            scope.Command("UPDATE notifications SET sealed = $sealed WHERE id = $id")
                                .Set("$id", row.Key).Set("$sealed", Reencrypt.Notification(keys, k, Guid.Parse(row.Key), row.Sealed)).ExecuteNonQuery();
                            break;
                        case ReencryptionTable.CustomerMessages when row.Sealed is null:
                            var (sealedMessage, sender) = Reencrypt.Message(k, Guid.Parse(row.Key), row.A, row.B);
                            scope.Command(
                                    "UPDATE customer_messages SET sealed = $sealed, sender = '', text = CASE WHEN text IS NULL THEN NULL ELSE '' END, " +
                                    "sender_hash = $sender WHERE id = $id")
                                .Set("$id", row.Key).Set("$sealed", sealedMessage).Set("$sender", sender).ExecuteNonQuery();
                            break;
                        case ReencryptionTable.CustomerMessages:
                            scope.Command("UPDATE customer_messages SET sealed = $sealed WHERE id = $id")
                                .Set("$id", row.Key).Set("$sealed", Reencrypt.Message(keys, k, Guid.Parse(row.Key), row.Sealed)).ExecuteNonQuery();
                            break;
                        default:
                            scope.Command("UPDATE customers SET sealed = $sealed, document = '{}' WHERE tenant_id = $tenant AND id = $id")
                                .Set("$tenant", SqliteValues.Id(row.TenantId)).Set("$id", row.A)
                                .Set("$sealed", Reencrypt.Customer(keys, k, row.A, row.B!, row.Sealed)).ExecuteNonQuery();
                            break;
                    }
                }

                var done = rows.Count < batch;
                var progress = done
                    ? scope.Command("DELETE FROM reencryption_progress WHERE name = $name")
                    : scope.Command(
                        "INSERT INTO reencryption_progress (name, cursor, updated_at) VALUES ($name, $cursor, $now) " +
                        "ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at");
                progress.Set("$name", Reencrypt.Name(table)).Set("$cursor", rows.Count == 0 ? "" : rows[^1].Key).Set("$now", SqliteValues.Ms(db.Time.GetUtcNow()))
                    .ExecuteNonQuery();
                return new ReencryptionBatch(rows.Count, rewritten, done);
            },
            ct).ConfigureAwait(false);
    }

    /// <summary>The consent ledger's pass (issue #17): its own small method, as the ledger's rows are (address, envelope,
    /// hash) and its append-only trigger admits exactly these changes (migration 0035).</summary>
    private async Task<ReencryptionBatch> RunConsentsBatchAsync(int batch, CancellationToken ct)
    {
        const string select =
            "SELECT id, tenant_id, address, sealed, address_hash FROM consents " +
            "WHERE id > coalesce((SELECT cursor FROM reencryption_progress WHERE name = $name), '') ORDER BY id LIMIT $batch";
        var name = Reencrypt.Name(ReencryptionTable.Consents);
        List<(Guid Id, Guid TenantId, string Address, byte[]? Sealed, byte[]? Hash)> Read(SqliteCommand command) =>
            command.Set("$name", name).Set("$batch", batch).ReadAll(r => (r.GetId(0), r.GetId(1), r.GetString(2),
                r.IsDBNull(3) ? null : (byte[])r.GetValue(3), r.IsDBNull(4) ? null : (byte[])r.GetValue(4)));

        // The tenants' keys first (creating keys is a write of its own), as for the other tables.
        var tenantKeys = new Dictionary<Guid, TenantKeySet>();
        var preview = await db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = select;
                return Read(command);
            },
            ct).ConfigureAwait(false);
        foreach (var row in preview)
        {
            if (!tenantKeys.ContainsKey(row.TenantId))
            {
                tenantKeys[row.TenantId] = await keys.ForWriteAsync(row.TenantId, ct).ConfigureAwait(false);
            }
        }

        return await db.WriteAsync(
            scope =>
            {
                using var read = scope.OneOff(select);
                var rows = Read(read);
                var update = scope.Command("UPDATE consents SET address = '', sealed = $sealed, address_hash = $hash WHERE id = $id");
                var rewritten = 0;
                foreach (var row in rows)
                {
                    // A tenant first seen in this second read wrote its entries sealed (new entries always are).
                    if (tenantKeys.TryGetValue(row.TenantId, out var k)
                        && Reencrypt.Consent(keys, k, row.Id, row.Address, row.Sealed, row.Hash) is { } changed)
                    {
                        update.Set("$id", SqliteValues.Id(row.Id)).Set("$sealed", changed.Sealed).Set("$hash", changed.Hash).ExecuteNonQuery();
                        rewritten++;
                    }
                }

                var done = rows.Count < batch;
                var progress = done
                    ? scope.Command("DELETE FROM reencryption_progress WHERE name = $name")
                    : scope.Command(
                        "INSERT INTO reencryption_progress (name, cursor, updated_at) VALUES ($name, $cursor, $now) " +
                        "ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at");
                progress.Set("$name", name).Set("$cursor", rows.Count == 0 ? "" : SqliteValues.Id(rows[^1].Id)).Set("$now", SqliteValues.Ms(db.Time.GetUtcNow()))
                    .ExecuteNonQuery();
                return new ReencryptionBatch(rows.Count, rewritten, done);
            },
            ct).ConfigureAwait(false);
    }

    public Task ResetAsync(CancellationToken ct) =>
        db.WriteAsync(scope => scope.Command("DELETE FROM reencryption_progress").ExecuteNonQuery(), ct);

    private static List<Row> Select(Func<string, SqliteCommand> command, ReencryptionTable table, int batch)
    {
        using var cursor = command("SELECT cursor FROM reencryption_progress WHERE name = $name");
        cursor.Set("$name", Reencrypt.Name(table));
        var after = cursor.ExecuteScalar() as string;
        using var select = command(table switch
        {
            ReencryptionTable.Notifications => SelectNotifications,
            ReencryptionTable.CustomerMessages => SelectMessages,
            _ => SelectCustomers,
        });
        if (table == ReencryptionTable.Customers)
        {
            var split = after?.IndexOf('|', StringComparison.Ordinal) ?? -1;
            select.Set("$after_tenant", split < 0 ? "" : after![..split]).Set("$after_id", split < 0 ? "" : after![(split + 1)..]);
        }
        else
        {
            select.Set("$after", after ?? "");
        }

        select.Set("$batch", batch);
        return select.ReadAll(r => new Row(r.GetString(0), r.GetId(1), r.GetString(2), r.GetStringOrNull(3), r.IsDBNull(4) ? null : (byte[])r.GetValue(4)));
    }

    /// <summary>A row as read: its cursor key, tenant and values (notifications: contacts, data; messages: sender,
    /// text; customers: id, document) and envelope.</summary>
    private sealed record Row(string Key, Guid TenantId, string A, string? B, byte[]? Sealed);
}
