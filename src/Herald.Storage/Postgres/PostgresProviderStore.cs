using Herald.Core.Notifications;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresProviderStore(NpgsqlDataSource dataSource) : IProviderStore
{
    private const string Columns = "id, tenant_id, channel, kind, name, settings::text, weight, enabled, created_at, rate_per_second";

    public async Task<ProviderAccount> CreateAsync(ProviderAccount account, CancellationToken ct)
    {
        var stored = account with
        {
            Id = account.Id == Guid.Empty ? Guid.CreateVersion7(account.CreatedAt) : account.Id,
            CreatedAt = Utc(account.CreatedAt),
        };
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO provider_accounts (id, tenant_id, channel, kind, name, settings, weight, enabled, created_at, rate_per_second)
            VALUES (@id, @tenant, @channel, @kind, @name, @settings, @weight, @enabled, @created, @rate)
            """);
        cmd.Parameters.Add(Param("id", stored.Id));
        cmd.Parameters.Add(Param("tenant", stored.TenantId));
        cmd.Parameters.Add(Param("channel", (short)stored.Channel));
        cmd.Parameters.Add(Param("kind", stored.Kind));
        cmd.Parameters.Add(Param("name", stored.Name));
        cmd.Parameters.Add(Param("settings", NpgsqlDbType.Jsonb, stored.Settings));
        cmd.Parameters.Add(Param("weight", stored.Weight));
        cmd.Parameters.Add(Param("enabled", stored.Enabled));
        cmd.Parameters.Add(Param("created", stored.CreatedAt));
        cmd.Parameters.Add(new NpgsqlParameter<double?>("rate", NpgsqlDbType.Double) { TypedValue = stored.RatePerSecond });
        await cmd.ExecuteNonQueryAsync(ct);
        return stored;
    }

    public async Task<IReadOnlyList<ProviderAccount>> ListAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM provider_accounts WHERE tenant_id = @tenant ORDER BY created_at, id");
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await ReadAllAsync(cmd, ct);
    }

    public async Task<IReadOnlyList<ProviderAccount>> ListEnabledAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM provider_accounts WHERE enabled ORDER BY tenant_id, created_at, id");
        return await ReadAllAsync(cmd, ct);
    }

    private static async Task<IReadOnlyList<ProviderAccount>> ReadAllAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ProviderAccount>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new ProviderAccount(
                r.GetGuid(0),
                r.GetGuid(1),
                (Channel)r.GetInt16(2),
                r.GetString(3),
                r.GetString(4),
                r.GetString(5),
                r.GetInt32(6),
                r.GetBoolean(7),
                r.GetFieldValue<DateTimeOffset>(8))
            {
                RatePerSecond = r.IsDBNull(9) ? null : r.GetDouble(9),
            });
        }

        return list;
    }
}
