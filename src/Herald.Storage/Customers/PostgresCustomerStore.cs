using Herald.Core.Customers;
using Herald.Storage.Secrets;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresCustomerStore(NpgsqlDataSource dataSource, ChangeFeed changes, TimeProvider time, TenantKeys keys) : ICustomerStore
{
    private const string Columns = "id, document::text, created_at, updated_at, tenant_id, sealed";

    public async Task<(Customer Customer, bool Created)> UpsertAsync(Guid tenantId, Customer customer, CancellationToken ct)
    {
        var now = Utc(time.GetUtcNow());
        var sealedDocument = CustomerSeal.Seal(await keys.ForWriteAsync(tenantId, ct), customer);
        return await changes.WriteAsync(async connection =>
        {
            await using var cmd = new NpgsqlCommand(
            """
            INSERT INTO customers (tenant_id, id, document, sealed, created_at, updated_at) VALUES (@tenant, @id, @doc::jsonb, @sealed, @now, @now)
            ON CONFLICT (tenant_id, id) DO UPDATE SET document = excluded.document, sealed = excluded.sealed, updated_at = excluded.updated_at
            RETURNING created_at, (xmax = 0) AS inserted
            """,
            connection);
            cmd.Parameters.Add(Param("tenant", tenantId));
            cmd.Parameters.Add(Param("id", customer.Id));
            cmd.Parameters.Add(Param("doc", CustomerSeal.Empty));
            cmd.Parameters.Add(Param("sealed", sealedDocument));
            cmd.Parameters.Add(Param("now", now));
            await using var r = await cmd.ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            return ((customer with { CreatedAt = r.GetFieldValue<DateTimeOffset>(0), UpdatedAt = now }, r.GetBoolean(1)), StoreChanges.Customer(tenantId, customer.Id));
        }, ct);
    }

    public async Task<Customer?> GetAsync(Guid tenantId, string customerId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM customers WHERE tenant_id = @tenant AND id = @id");
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("id", customerId));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r, keys) : null;
    }

    public async Task<IReadOnlyList<Customer>> GetManyAsync(Guid tenantId, IReadOnlyCollection<string> customerIds, CancellationToken ct)
    {
        if (customerIds.Count == 0)
        {
            return [];
        }

        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM customers WHERE tenant_id = @tenant AND id = ANY(@ids)");
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Array("ids", NpgsqlDbType.Text, customerIds.Distinct(StringComparer.Ordinal).ToArray()));
        return await ReadAllAsync(cmd, keys, ct);
    }

    public async Task<IReadOnlyList<Customer>> ListAsync(Guid tenantId, string? after, int limit, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"SELECT {Columns} FROM customers WHERE tenant_id = @tenant AND (@after::text IS NULL OR id > @after) ORDER BY id LIMIT @limit");
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("after", NpgsqlDbType.Text, after));
        cmd.Parameters.Add(Param("limit", Math.Clamp(limit, 1, 500)));
        return await ReadAllAsync(cmd, keys, ct);
    }

    public async Task<bool> DeleteAsync(Guid tenantId, string customerId, CancellationToken ct)
    {
        return await changes.WriteAsync(async connection =>
        {
            await using var cmd = new NpgsqlCommand("DELETE FROM customers WHERE tenant_id = @tenant AND id = @id", connection);
            cmd.Parameters.Add(Param("tenant", tenantId));
            cmd.Parameters.Add(Param("id", customerId));
            var deleted = await cmd.ExecuteNonQueryAsync(ct) > 0;
            return (deleted, deleted ? StoreChanges.Customer(tenantId, customerId) : null);
        }, ct);
    }

    private static async Task<IReadOnlyList<Customer>> ReadAllAsync(NpgsqlCommand cmd, TenantKeys keys, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<Customer>();
        while (await r.ReadAsync(ct))
        {
            list.Add(Read(r, keys));
        }

        return list;
    }

    private static Customer Read(NpgsqlDataReader r, TenantKeys keys) => CustomerJson.Deserialize(
        r.GetString(0),
        CustomerSeal.Document(keys, r.GetGuid(4), r.GetString(0), r.GetString(1), r.IsDBNull(5) ? null : r.GetFieldValue<byte[]>(5)),
        r.GetFieldValue<DateTimeOffset>(2),
        r.GetFieldValue<DateTimeOffset>(3));
}

