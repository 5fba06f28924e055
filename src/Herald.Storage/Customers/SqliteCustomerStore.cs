using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Templates;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteCustomerStore(SqliteDatabase db) : ICustomerStore
{
    private const string Columns = "id, document, created_at, updated_at";

    public async Task<(Customer Customer, bool Created)> UpsertAsync(Guid tenantId, Customer customer, CancellationToken ct)
    {
        var now = SqliteValues.Ms(db.Time.GetUtcNow());
        var document = CustomerJson.Serialize(customer);
        var (createdMs, created) = await db.WriteAsync(
            scope =>
            {
                var existing = scope.Command("SELECT created_at FROM customers WHERE tenant_id = $tenant AND id = $id")
                    .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", customer.Id).ExecuteScalar();
                scope.Command(
                    """
                    INSERT INTO customers (tenant_id, id, document, created_at, updated_at) VALUES ($tenant, $id, $doc, $now, $now)
                    ON CONFLICT (tenant_id, id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at
                    """)
                    .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", customer.Id).Set("$doc", document).Set("$now", now)
                    .ExecuteNonQuery();
                return existing is long ms ? (ms, false) : (now, true);
            },
            ct).ConfigureAwait(false);
        return (customer with { CreatedAt = SqliteValues.Time(createdMs), UpdatedAt = SqliteValues.Time(now) }, created);
    }

    public Task<Customer?> GetAsync(Guid tenantId, string customerId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM customers WHERE tenant_id = $tenant AND id = $id";
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", customerId);
                return command.ReadFirst(Read);
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
                return command.ReadAll(Read);
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
                return command.ReadAll(Read);
            },
            ct);

    public Task<bool> DeleteAsync(Guid tenantId, string customerId, CancellationToken ct) =>
        db.WriteAsync(
            scope => scope.Command("DELETE FROM customers WHERE tenant_id = $tenant AND id = $id")
                .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", customerId).ExecuteNonQuery() > 0,
            ct);

    private static Customer Read(SqliteDataReader r) => CustomerJson.Deserialize(r.GetString(0), r.GetString(1), r.GetTime(2), r.GetTime(3));
}

internal sealed class SqliteTemplateStore(SqliteDatabase db) : ITemplateStore
{
    private const string Columns = "id, tenant_id, name, channel, language, document, version, created_at, updated_at";

    public Task<(MessageTemplate Template, bool Created)> SaveAsync(MessageTemplate template, CancellationToken ct)
    {
        var now = db.Time.GetUtcNow();
        var nowMs = SqliteValues.Ms(now);
        var document = CustomerJson.Serialize(template);
        var language = CustomerJson.LanguageKey(template.Language);
        return db.WriteAsync(
            scope =>
            {
                var existing = scope.Command($"SELECT {Columns} FROM templates WHERE tenant_id = $tenant AND name = $name AND channel = $channel AND language = $language")
                    .Set("$tenant", SqliteValues.Id(template.TenantId)).Set("$name", template.Name).Set("$channel", (int)template.Channel).Set("$language", language)
                    .ReadFirst(Read);
                if (existing is null)
                {
                    var id = Guid.CreateVersion7(now);
                    scope.Command(
                        """
                        INSERT INTO templates (id, tenant_id, name, channel, language, document, version, created_at, updated_at)
                        VALUES ($id, $tenant, $name, $channel, $language, $doc, 1, $now, $now)
                        """)
                        .Set("$id", SqliteValues.Id(id)).Set("$tenant", SqliteValues.Id(template.TenantId)).Set("$name", template.Name)
                        .Set("$channel", (int)template.Channel).Set("$language", language).Set("$doc", document).Set("$now", nowMs)
                        .ExecuteNonQuery();
                    var stored = template with { Id = id, Version = 1, CreatedAt = SqliteValues.Time(nowMs), UpdatedAt = SqliteValues.Time(nowMs) };
                    return (stored, true);
                }

                scope.Command("UPDATE templates SET document = $doc, version = version + 1, updated_at = $now WHERE id = $id")
                    .Set("$doc", document).Set("$now", nowMs).Set("$id", SqliteValues.Id(existing.Id)).ExecuteNonQuery();
                var updated = template with
                {
                    Id = existing.Id, Version = existing.Version + 1, CreatedAt = existing.CreatedAt, UpdatedAt = SqliteValues.Time(nowMs),
                };
                return (updated, false);
            },
            ct);
    }

    public Task<MessageTemplate?> GetAsync(Guid tenantId, Guid id, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM templates WHERE tenant_id = $tenant AND id = $id";
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", SqliteValues.Id(id));
                return command.ReadFirst(Read);
            },
            ct);

    public Task<IReadOnlyList<MessageTemplate>> ListAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<MessageTemplate>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM templates WHERE tenant_id = $tenant ORDER BY name, channel, language";
                command.Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadAll(Read);
            },
            ct);

    public Task<bool> DeleteAsync(Guid tenantId, Guid id, CancellationToken ct) =>
        db.WriteAsync(
            scope => scope.Command("DELETE FROM templates WHERE tenant_id = $tenant AND id = $id")
                .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", SqliteValues.Id(id)).ExecuteNonQuery() > 0,
            ct);

    private static MessageTemplate Read(SqliteDataReader r) => CustomerJson.Deserialize(
        r.GetId(0), r.GetId(1), r.GetString(2), (Channel)r.GetInt16(3), r.GetString(4), r.GetString(5), r.GetInt32(6), r.GetTime(7), r.GetTime(8));
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class SqliteCustomerJson : System.Text.Json.Serialization.JsonSerializerContext;
