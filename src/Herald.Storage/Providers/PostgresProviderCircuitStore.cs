using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresProviderCircuitStore(NpgsqlDataSource dataSource) : IProviderCircuitStore
{
    public async Task ReportAsync(string node, IReadOnlyList<ProviderCircuitReport> circuits, DateTimeOffset now, DateTimeOffset forgetBefore, CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        var upsert = new NpgsqlBatchCommand(
            """
            INSERT INTO provider_circuits (account_id, node, tenant_id, state, since, seen_at)
            SELECT a, @node, t, s, since, @now FROM unnest(@accounts, @tenants, @states, @since) AS u(a, t, s, since)
            ON CONFLICT (account_id, node) DO UPDATE SET state = excluded.state, since = excluded.since, seen_at = excluded.seen_at
            """);
        upsert.Parameters.Add(Param("node", node));
        upsert.Parameters.Add(Param("now", Utc(now)));
        upsert.Parameters.Add(Array("accounts", NpgsqlDbType.Uuid, circuits.Select(c => c.AccountId).ToArray()));
        upsert.Parameters.Add(Array("tenants", NpgsqlDbType.Uuid, circuits.Select(c => c.TenantId).ToArray()));
        upsert.Parameters.Add(Array("states", NpgsqlDbType.Text, circuits.Select(c => c.State).ToArray()));
        upsert.Parameters.Add(Array("since", NpgsqlDbType.TimestampTz, circuits.Select(c => Utc(c.Since)).ToArray()));
        batch.BatchCommands.Add(upsert);
        // Accounts this node no longer holds (deleted, disabled) and nodes that stopped reporting.
        var forget = new NpgsqlBatchCommand(
            "DELETE FROM provider_circuits WHERE seen_at < @forget OR (node = @node AND NOT (account_id = ANY (@accounts)))");
        forget.Parameters.Add(Param("forget", Utc(forgetBefore)));
        forget.Parameters.Add(Param("node", node));
        forget.Parameters.Add(Array("accounts", NpgsqlDbType.Uuid, circuits.Select(c => c.AccountId).ToArray()));
        batch.BatchCommands.Add(forget);
        await batch.ExecuteNonQueryAsync(ct);
    }

    public async Task<IReadOnlyList<ProviderCircuitReport>> ListAsync(Guid tenantId, DateTimeOffset seenSince, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT account_id, tenant_id, node, state, since, seen_at FROM provider_circuits
            WHERE tenant_id = @tenant AND seen_at >= @seen ORDER BY account_id, node
            """);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("seen", Utc(seenSince)));
        return await cmd.ReadAllAsync(
            static r => new ProviderCircuitReport(
                r.GetGuid(0), r.GetGuid(1), r.GetString(2), r.GetString(3), r.GetFieldValue<DateTimeOffset>(4), r.GetFieldValue<DateTimeOffset>(5)),
            ct);
    }
}
