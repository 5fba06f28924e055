using Herald.Core.Notifications;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteProviderStore(SqliteDatabase db) : IProviderStore
{
    private const string Columns = "id, tenant_id, channel, kind, name, settings, weight, enabled, created_at, rate_per_second";

    public async Task<ProviderAccount> CreateAsync(ProviderAccount account, CancellationToken ct)
    {
        await db.WriteAsync(
            scope => scope.Command($"INSERT INTO provider_accounts ({Columns}) VALUES ($id, $tenant, $channel, $kind, $name, $settings, $weight, $enabled, $at, $rate)")
                .Set("$id", SqliteValues.Id(account.Id))
                .Set("$tenant", SqliteValues.Id(account.TenantId))
                .Set("$channel", (int)account.Channel)
                .Set("$kind", account.Kind)
                .Set("$name", account.Name)
                .Set("$settings", account.Settings)
                .Set("$weight", account.Weight)
                .Set("$enabled", account.Enabled ? 1 : 0)
                .Set("$at", SqliteValues.Ms(account.CreatedAt))
                .Set("$rate", account.RatePerSecond)
                .ExecuteNonQuery(),
            ct).ConfigureAwait(false);
        // Return what a read would return: times are kept to the millisecond.
        return account with { CreatedAt = SqliteValues.Time(SqliteValues.Ms(account.CreatedAt)) };
    }

    public Task<IReadOnlyList<ProviderAccount>> ListAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<ProviderAccount>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM provider_accounts WHERE tenant_id = $tenant ORDER BY created_at, id";
                command.Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadAll(Read);
            },
            ct);

    public Task<IReadOnlyList<ProviderAccount>> ListEnabledAsync(CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<ProviderAccount>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM provider_accounts WHERE enabled = 1 ORDER BY tenant_id, created_at, id";
                return command.ReadAll(Read);
            },
            ct);

    private static ProviderAccount Read(SqliteDataReader r) => new(
        r.GetId(0),
        r.GetId(1),
        (Channel)r.GetInt16(2),
        r.GetString(3),
        r.GetString(4),
        r.GetString(5),
        r.GetInt32(6),
        r.GetInt64(7) != 0,
        r.GetTime(8))
    {
        RatePerSecond = r.IsDBNull(9) ? null : r.GetDouble(9),
    };
}
