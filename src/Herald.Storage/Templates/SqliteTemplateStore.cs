using Herald.Core.Notifications;
using Herald.Core.Templates;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteTemplateStore(SqliteDatabase db, ChangeFeed changes) : ITemplateStore
{
    private const string Columns = "id, tenant_id, name, channel, language, document, version, created_at, updated_at";

    public async Task<(MessageTemplate Template, bool Created)> SaveAsync(MessageTemplate template, CancellationToken ct)
    {
        var now = db.Time.GetUtcNow();
        var nowMs = SqliteValues.Ms(now);
        var document = CustomerJson.Serialize(template);
        var language = CustomerJson.LanguageKey(template.Language);
        var saved = await db.WriteAsync(
            scope =>
            {
                var existing = scope.Command($"SELECT {Columns} FROM templates WHERE tenant_id = $tenant AND name = $name AND channel = $channel AND language = $language")
                    .Set("$tenant", SqliteValues.Id(template.TenantId)).Set("$name", template.Name).Set("$channel", (int)template.Channel).Set("$language", language)
                    .ReadFirst(Read);
                if (existing is null)
                {
                    var id = TimeOrderedIds.New(now);
                    scope.Command(
                        """
                        INSERT INTO templates (id, tenant_id, name, channel, language, document, version, created_at, updated_at)
                        VALUES ($id, $tenant, $name, $channel, $language, $doc, 1, $now, $now)
                        """)
                        .Set("$id", SqliteValues.Id(id)).Set("$tenant", SqliteValues.Id(template.TenantId)).Set("$name", template.Name)
                        .Set("$channel", (int)template.Channel).Set("$language", language).Set("$doc", document).Set("$now", nowMs)
                        .ExecuteNonQuery();
                    var stored = template with { Id = id, Version = 1, CreatedAt = SqliteValues.Time(nowMs), UpdatedAt = SqliteValues.Time(nowMs) };
                    SqliteAuditStore.AppendPending(scope);
                    return (stored, true);
                }

                scope.Command("UPDATE templates SET document = $doc, version = version + 1, updated_at = $now WHERE id = $id")
                    .Set("$doc", document).Set("$now", nowMs).Set("$id", SqliteValues.Id(existing.Id)).ExecuteNonQuery();
                SqliteAuditStore.AppendPending(scope);
                var updated = template with
                {
                    Id = existing.Id, Version = existing.Version + 1, CreatedAt = existing.CreatedAt, UpdatedAt = SqliteValues.Time(nowMs),
                };
                return (updated, false);
            },
            ct).ConfigureAwait(false);
        await changes.CommittedAsync(StoreChanges.Templates(template.TenantId)).ConfigureAwait(false);
        return saved;
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

    public async Task<bool> DeleteAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        var deleted = await db.WriteAsync(
            scope =>
            {
                var gone = scope.Command("DELETE FROM templates WHERE tenant_id = $tenant AND id = $id")
                    .Set("$tenant", SqliteValues.Id(tenantId)).Set("$id", SqliteValues.Id(id)).ExecuteNonQuery() > 0;
                if (gone)
                {
                    SqliteAuditStore.AppendPending(scope);
                }

                return gone;
            },
            ct).ConfigureAwait(false);
        if (deleted)
        {
            await changes.CommittedAsync(StoreChanges.Templates(tenantId)).ConfigureAwait(false);
        }

        return deleted;
    }

    private static MessageTemplate Read(SqliteDataReader r) => CustomerJson.Deserialize(
        r.GetId(0), r.GetId(1), r.GetString(2), (Channel)r.GetInt16(3), r.GetString(4), r.GetString(5), r.GetInt32(6), r.GetTime(7), r.GetTime(8));
}
