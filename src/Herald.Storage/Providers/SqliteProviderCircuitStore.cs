namespace Herald.Storage.Sqlite;

internal sealed class SqliteProviderCircuitStore(SqliteDatabase db) : IProviderCircuitStore
{
    public Task ReportAsync(string node, IReadOnlyList<ProviderCircuitReport> circuits, DateTimeOffset now, DateTimeOffset forgetBefore, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var seen = SqliteValues.Ms(now);
                // Rows of this node not reported now are accounts it no longer holds; rows not seen since forgetBefore
                // belong to nodes that stopped.
                scope.Command("DELETE FROM provider_circuits WHERE seen_at < $forget OR node = $node")
                    .Set("$forget", SqliteValues.Ms(forgetBefore)).Set("$node", node)
                    .ExecuteNonQuery();
                var insert = scope.Command(
                    "INSERT INTO provider_circuits (account_id, node, tenant_id, state, since, seen_at) VALUES ($account, $node, $tenant, $state, $since, $seen)");
                foreach (var c in circuits)
                {
                    insert.Set("$account", SqliteValues.Id(c.AccountId)).Set("$node", node).Set("$tenant", SqliteValues.Id(c.TenantId))
                        .Set("$state", c.State).Set("$since", SqliteValues.Ms(c.Since)).Set("$seen", seen)
                        .ExecuteNonQuery();
                }

                return 0;
            },
            ct);

    public Task<IReadOnlyList<ProviderCircuitReport>> ListAsync(Guid tenantId, DateTimeOffset seenSince, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<ProviderCircuitReport>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText =
                    "SELECT account_id, tenant_id, node, state, since, seen_at FROM provider_circuits " +
                    "WHERE tenant_id = $tenant AND seen_at >= $seen ORDER BY account_id, node";
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$seen", SqliteValues.Ms(seenSince));
                return command.ReadAll(static r => new ProviderCircuitReport(r.GetId(0), r.GetId(1), r.GetString(2), r.GetString(3), r.GetTime(4), r.GetTime(5)));
            },
            ct);
}
