using Herald.Core.Notifications;
using Herald.Core.Templates;
using Npgsql;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresTemplateStore(NpgsqlDataSource dataSource, ChangeFeed changes, TimeProvider time) : ITemplateStore
{
    private const string Columns = "id, tenant_id, name, channel, language, document::text, version, created_at, updated_at";

    public async Task<(MessageTemplate Template, bool Created)> SaveAsync(MessageTemplate template, CancellationToken ct)
    {
        var now = Utc(time.GetUtcNow());
        return await changes.WriteAsync(async connection =>
        {
            await using var cmd = new NpgsqlCommand(
            $"""
            INSERT INTO templates (id, tenant_id, name, channel, language, document, version, created_at, updated_at)
            VALUES (@id, @tenant, @name, @channel, @language, @doc::jsonb, 1, @now, @now)
            ON CONFLICT (tenant_id, name, channel, language) DO UPDATE
                SET document = excluded.document, version = templates.version + 1, updated_at = excluded.updated_at
            RETURNING {Columns}, (xmax = 0) AS inserted
            """,
            connection);
            cmd.Parameters.Add(Param("id", TimeOrderedIds.New(now)));
            cmd.Parameters.Add(Param("tenant", template.TenantId));
            cmd.Parameters.Add(Param("name", template.Name));
            cmd.Parameters.Add(Param("channel", (short)template.Channel));
            cmd.Parameters.Add(Param("language", CustomerJson.LanguageKey(template.Language)));
            cmd.Parameters.Add(Param("doc", CustomerJson.Serialize(template)));
            cmd.Parameters.Add(Param("now", now));
            await using var r = await cmd.ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            return ((Read(r), r.GetBoolean(9)), StoreChanges.Templates(template.TenantId));
        }, ct);
    }

    public async Task<MessageTemplate?> GetAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM templates WHERE tenant_id = @tenant AND id = @id");
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("id", id));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    public async Task<IReadOnlyList<MessageTemplate>> ListAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM templates WHERE tenant_id = @tenant ORDER BY name, channel, language");
        cmd.Parameters.Add(Param("tenant", tenantId));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<MessageTemplate>();
        while (await r.ReadAsync(ct))
        {
            list.Add(Read(r));
        }

        return list;
    }

    public async Task<bool> DeleteAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        return await changes.WriteAsync(async connection =>
        {
            await using var cmd = new NpgsqlCommand("DELETE FROM templates WHERE tenant_id = @tenant AND id = @id", connection);
            cmd.Parameters.Add(Param("tenant", tenantId));
            cmd.Parameters.Add(Param("id", id));
            var deleted = await cmd.ExecuteNonQueryAsync(ct) > 0;
            return (deleted, deleted ? StoreChanges.Templates(tenantId) : null);
        }, ct);
    }

    private static MessageTemplate Read(NpgsqlDataReader r) => CustomerJson.Deserialize(
        r.GetGuid(0), r.GetGuid(1), r.GetString(2), (Channel)r.GetInt16(3), r.GetString(4), r.GetString(5), r.GetInt32(6),
        r.GetFieldValue<DateTimeOffset>(7), r.GetFieldValue<DateTimeOffset>(8));
}
