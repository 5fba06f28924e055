namespace Herald.Storage.Sqlite;

internal sealed class SqliteServiceWindowStore(SqliteDatabase db) : IServiceWindowStore
{
    public async Task TouchAsync(IReadOnlyList<ServiceWindowTouch> touches, CancellationToken ct)
    {
        if (touches.Count == 0)
        {
            return;
        }

        await db.WriteAsync(
            scope =>
            {
                var upsert = scope.Command(
                    """
                    INSERT INTO service_windows (account_id, address, tenant_id, last_inbound_at) VALUES ($account, $address, $tenant, $at)
                    ON CONFLICT (account_id, address) DO UPDATE SET last_inbound_at = max(last_inbound_at, excluded.last_inbound_at)
                    """);
                foreach (var t in touches)
                {
                    upsert.Set("$account", SqliteValues.Id(t.AccountId)).Set("$address", t.Address)
                        .Set("$tenant", SqliteValues.Id(t.TenantId)).Set("$at", SqliteValues.Ms(t.At)).ExecuteNonQuery();
                }

                return 0;
            },
            ct).ConfigureAwait(false);
    }

    public Task<DateTimeOffset?> LastInboundAsync(Guid accountId, string address, CancellationToken ct) =>
        db.ReadAsync<DateTimeOffset?>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT last_inbound_at FROM service_windows WHERE account_id = $account AND address = $address";
                command.Set("$account", SqliteValues.Id(accountId)).Set("$address", address);
                return command.ExecuteScalar() is long ms ? SqliteValues.Time(ms) : null;
            },
            ct);
}
