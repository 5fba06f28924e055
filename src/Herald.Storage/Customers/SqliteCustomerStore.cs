using Herald.Core.Customers;
using Herald.Storage.Secrets;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteCustomerStore(SqliteDatabase db, ChangeFeed changes, TenantKeys keys) : ICustomerStore
{
    private const string Columns = "id, document, created_at, updated_at, tenant_id, sealed";

    public async Task<(Customer Customer, bool Created)> UpsertAsync(Guid tenantId, Customer customer, CancellationToken ct)
    {
        var now = SqliteValues.Ms(db.Time.GetUtcNow());
        // Keys first: creating a tenant's keys is a write of its own. The document is stored sealed (CustomerSeal).
        var sealedDocument = CustomerSeal.Seal(await keys.ForWriteAsync(tenantId, ct).ConfigureAwait(false), customer);
        var (createdMs, created) = await db.WriteAsync(
            scope =>
            {
                var existing = scope.Command("SELECT created_at FROM customers WHERE tenant_id = $tenant AND id = $id")
                    .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", customer.Id).ExecuteScalar();
                scope.Command(
                    """
                    INSERT INTO customers (tenant_id, id, document, sealed, created_at, updated_at) VALUES ($tenant, $id, $doc, $sealed, $now, $now)
                    ON CONFLICT (tenant_id, id) DO UPDATE SET document = excluded.document, sealed = excluded.sealed, updated_at = excluded.updated_at
                    """)
                    .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", customer.Id).Set("$doc", CustomerSeal.Empty).Set("$sealed", sealedDocument).Set("$now", now)
                    .ExecuteNonQuery();
                SqliteAuditStore.AppendPending(scope);
                return existing is long ms ? (ms, false) : (now, true);
            },
            ct).ConfigureAwait(false);
        await AnnounceAsync(tenantId, customer.Id, ct).ConfigureAwait(false);
        return (customer with { CreatedAt = SqliteValues.Time(createdMs), UpdatedAt = SqliteValues.Time(now) }, created);
    }

    public Task<Customer?> GetAsync(Guid tenantId, string customerId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM customers WHERE tenant_id = $tenant AND id = $id";
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", customerId);
                return command.ReadFirst(r => Read(r, keys));
            },
            ct);

    public Task<IReadOnlyList<Customer>> GetManyAsync(Guid tenantId, IReadOnlyCollection<string> customerIds, CancellationToken ct)
    {
        if (customerIds.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<Customer>>([]);
        }

        return db.ReadAsync<IReadOnlyList<Customer>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM customers WHERE tenant_id = $tenant AND id IN (SELECT value FROM json_each($ids))";
                command.Set("$tenant", SqliteValues.Id(tenantId))
                    .Set("$ids", System.Text.Json.JsonSerializer.Serialize(customerIds.Distinct(StringComparer.Ordinal).ToArray(), SqliteCustomerJson.Default.StringArray));
                return command.ReadAll(r => Read(r, keys));
            },
            ct);
    }

    public Task<IReadOnlyList<Customer>> ListAsync(Guid tenantId, string? after, int limit, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<Customer>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText =
                    $"SELECT {Columns} FROM customers WHERE tenant_id = $tenant AND ($after IS NULL OR id > $after) ORDER BY id LIMIT $limit";
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$after", SqliteValues.Text(after)).Set("$limit", Math.Clamp(limit, 1, 500));
                return command.ReadAll(r => Read(r, keys));
            },
            ct);

    public async Task<bool> DeleteAsync(Guid tenantId, string customerId, CancellationToken ct)
    {
        var deleted = await db.WriteAsync(
            scope =>
            {
                var gone = scope.Command("DELETE FROM customers WHERE tenant_id = $tenant AND id = $id")
                    .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", customerId).ExecuteNonQuery() > 0;
                if (gone)
                {
                    SqliteAuditStore.AppendPending(scope);
                }

                return gone;
            },
            ct).ConfigureAwait(false);
        if (deleted)
        {
            await AnnounceAsync(tenantId, customerId, ct).ConfigureAwait(false);
        }

        return deleted;
    }

    private Task AnnounceAsync(Guid tenantId, string customerId, CancellationToken ct) =>
        StoreChanges.Customer(tenantId, customerId) is { } change ? changes.CommittedAsync(change) : Task.CompletedTask;

    private static Customer Read(SqliteDataReader r, TenantKeys keys) => CustomerJson.Deserialize(
        r.GetString(0),
        CustomerSeal.Document(keys, r.GetId(4), r.GetString(0), r.GetString(1), r.IsDBNull(5) ? null : (byte[])r.GetValue(5)),
        r.GetTime(2),
        r.GetTime(3));
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class SqliteCustomerJson : System.Text.Json.Serialization.JsonSerializerContext;
