using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresServiceWindowStore(NpgsqlDataSource dataSource) : IServiceWindowStore
{
    public async Task TouchAsync(IReadOnlyList<ServiceWindowTouch> touches, CancellationToken ct)
    {
        if (touches.Count == 0)
        {
            return;
        }

        // ON CONFLICT may not touch one row twice in a statement: one touch per key, the latest.
        var latest = touches.GroupBy(static t => (t.AccountId, t.Address)).Select(static g => g.MaxBy(static t => t.At)!).ToArray();
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO service_windows (account_id, address, tenant_id, last_inbound_at)
            SELECT * FROM unnest(@account, @address, @tenant, @at)
            ON CONFLICT (account_id, address) DO UPDATE SET last_inbound_at = greatest(service_windows.last_inbound_at, excluded.last_inbound_at)
            """);
        cmd.Parameters.Add(Array("account", NpgsqlDbType.Uuid, latest.Select(static t => t.AccountId).ToArray()));
        cmd.Parameters.Add(Array("address", NpgsqlDbType.Text, latest.Select(static t => t.Address).ToArray()));
        cmd.Parameters.Add(Array("tenant", NpgsqlDbType.Uuid, latest.Select(static t => t.TenantId).ToArray()));
        cmd.Parameters.Add(Array("at", NpgsqlDbType.TimestampTz, latest.Select(static t => Utc(t.At)).ToArray()));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<DateTimeOffset?> LastInboundAsync(Guid accountId, string address, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT last_inbound_at FROM service_windows WHERE account_id = @account AND address = @address");
        cmd.Parameters.Add(Param("account", accountId));
        cmd.Parameters.Add(Param("address", address));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? r.GetFieldValue<DateTimeOffset>(0) : null;
    }
}
