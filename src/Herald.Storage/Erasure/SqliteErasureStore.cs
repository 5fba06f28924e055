using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteErasureStore(SqliteDatabase db, TenantKeys keys, ChangeFeed changes) : IErasureStore
{
    // As PostgreSQL: the keyed hashes find sealed rows; plaintext rows from before encryption at rest are still matched
    // by their plaintext until `herald reencrypt` moved them.
    private const string Matches =
        "(n.customer_id = $customer OR n.phone_hash = $phone_hash OR n.email_hash = $email_hash " +
        "OR (n.sealed IS NULL AND (json_extract(n.contacts, '$.phone') = $phone OR json_extract(n.contacts, '$.email') = $email)))";

    // As PostgreSQL: what the customer sent in keeps its link, action id and times; its text and address go.
    public async Task<int> RedactMessagesAsync(Guid tenantId, ErasureTarget target, CancellationToken ct)
    {
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct).ConfigureAwait(false);
        return await db.WriteAsync(scope => RedactMessages(scope, tenantKeys, target), ct).ConfigureAwait(false);
    }

    private static int RedactMessages(WriteScope scope, TenantKeySet tenantKeys, ErasureTarget target) =>
        Bind(scope.Command(
                $"""
                UPDATE customer_messages SET text = CASE WHEN text IS NULL THEN NULL ELSE $marker END, sender = $marker,
                    sealed = NULL, sender_hash = NULL
                WHERE tenant_id = $tenant AND sender <> $marker
                  AND (customer_id = $customer OR sender_hash = $phone_sender OR sender_hash = $email_sender
                       OR (sealed IS NULL AND (sender = $phone OR sender = $email))
                       OR notification_id IN (SELECT n.id FROM notifications n WHERE n.tenant_id = $tenant AND {Matches}))
                """), tenantKeys, target)
            .Set("$phone_sender", ContactHash.Compute(tenantKeys, ContactKind.Sender, target.Phone))
            .Set("$email_sender", ContactHash.Compute(tenantKeys, ContactKind.Sender, target.Email))
            .Set("$marker", IErasureStore.Marker)
            .ExecuteNonQuery();

    public async Task<IReadOnlyList<Guid>> InFlightAsync(Guid tenantId, ErasureTarget target, int max, CancellationToken ct)
    {
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct).ConfigureAwait(false);
        return await db.ReadAsync<IReadOnlyList<Guid>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText =
                    $"SELECT n.id FROM notifications n WHERE n.tenant_id = $tenant AND {Matches} AND {StateSql.NotFinal("n.status")} ORDER BY n.id LIMIT $max";
                Bind(command, tenantKeys, target).Set("$max", max);
                return command.ReadAll(r => r.GetId(0));
            },
            ct).ConfigureAwait(false);
    }

    // As PostgreSQL: ErasureRedaction computes what stays; the envelope and the contact hashes go.
    public async Task<(int Redacted, Guid? Last)> RedactAsync(Guid tenantId, ErasureTarget target, Guid? after, int batch, CancellationToken ct)
    {
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct).ConfigureAwait(false);
        return await db.WriteAsync(scope => RedactBatch(scope, tenantKeys, target, after, batch), ct).ConfigureAwait(false);
    }

    // As PostgreSQL: one write transaction for the customer, its notifications, messages and ledger entries and the
    // audit entry (appended last); the changes are announced after the commit.
    public async Task<ErasureCounts> EraseAsync(
        Guid tenantId, ErasureTarget target, IReadOnlyList<(Channel Channel, string Address)> consentAddresses, AuditChange audit, CancellationToken ct)
    {
        const int batch = 500;
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct).ConfigureAwait(false);
        var counts = await db.WriteAsync(
            scope =>
            {
                var deleted = target.CustomerId is { } customerId
                    && scope.Command("DELETE FROM customers WHERE tenant_id = $tenant AND id = $id")
                        .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", customerId).ExecuteNonQuery() > 0;
                var notifications = 0;
                Guid? after = null;
                int count;
                do
                {
                    (count, var last) = RedactBatch(scope, tenantKeys, target, after, batch);
                    notifications += count;
                    after = last ?? after;
                }
                while (count == batch);

                var messages = RedactMessages(scope, tenantKeys, target);
                var consents = SqliteConsentStore.Redact(scope, tenantKeys, target.CustomerId, consentAddresses);
                SqliteAuditStore.Append(scope, audit);
                return new ErasureCounts(deleted, notifications, messages, consents);
            },
            ct).ConfigureAwait(false);
        if (counts.CustomerDeleted && StoreChanges.Customer(tenantId, target.CustomerId!) is { } customerChange)
        {
            await changes.CommittedAsync(customerChange).ConfigureAwait(false);
        }

        if (counts.Consents > 0)
        {
            await changes.CommittedAsync(StoreChanges.Consents(tenantId)).ConfigureAwait(false);
        }

        return counts;
    }

    private (int Redacted, Guid? Last) RedactBatch(WriteScope scope, TenantKeySet tenantKeys, ErasureTarget target, Guid? after, int batch)
    {
        var tenantId = tenantKeys.TenantId;
        var select = scope.Command(
            $"SELECT n.id, n.contacts, n.data, n.sealed FROM notifications n WHERE n.tenant_id = $tenant AND n.id > $after AND {Matches} ORDER BY n.id LIMIT $batch");
        Bind(select, tenantKeys, target).Set("$after", SqliteValues.Id(after ?? Guid.Empty)).Set("$batch", batch);
        var rows = select.ReadAll(r =>
        {
            var id = r.GetId(0);
            var (contacts, data) = ErasureRedaction.Of(keys, tenantId, id, r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : (byte[])r.GetValue(3));
            return (Id: id, Contacts: contacts, Data: data);
        });
        var update = scope.Command(
            "UPDATE notifications SET contacts = $contacts, data = $data, sealed = NULL, phone_hash = NULL, email_hash = NULL WHERE id = $id");
        foreach (var row in rows)
        {
            update.Set("$id", SqliteValues.Id(row.Id)).Set("$contacts", row.Contacts).Set("$data", row.Data).ExecuteNonQuery();
        }

        return (rows.Count, rows.Count == 0 ? (Guid?)null : rows[^1].Id);
    }

    private static SqliteCommand Bind(SqliteCommand command, TenantKeySet tenantKeys, ErasureTarget target)
    {
        var (phoneHash, emailHash) = ErasureRedaction.Hashes(tenantKeys, target);
        return command.Set("$tenant", SqliteValues.Id(tenantKeys.TenantId))
            .Set("$customer", SqliteValues.Text(target.CustomerId))
            .Set("$phone", SqliteValues.Text(target.Phone))
            .Set("$email", SqliteValues.Text(target.Email))
            .Set("$phone_hash", phoneHash)
            .Set("$email_hash", emailHash);
    }
}
