using System.Globalization;
using System.Text;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Storage.Secrets;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteProviderStore(SqliteDatabase db, ChangeFeed changes, ISecretProtector protector) : IProviderStore
{
    private const string Columns = "id, tenant_id, channel, kind, name, settings, weight, enabled, created_at, rate_per_second, prices, isolated, sender_identity";

    public async Task<ProviderAccount> CreateAsync(ProviderAccount account, CancellationToken ct) =>
        (await CreateManyAsync([account], ct).ConfigureAwait(false))[0];

    public async Task<IReadOnlyList<ProviderAccount>> CreateManyAsync(IReadOnlyList<ProviderAccount> accounts, CancellationToken ct)
    {
        var rows = accounts.Select(a => (Account: a, Settings: ProviderRows.Protect(protector, a.Id, a.Settings))).ToList();
        await IdentityGuardedAsync(() => db.WriteAsync(
            scope =>
            {
                foreach (var (account, settings) in rows)
                {
                    scope.Command($"INSERT INTO provider_accounts ({Columns}) VALUES ($id, $tenant, $channel, $kind, $name, $settings, $weight, $enabled, $at, $rate, $prices, $isolated, $identity)")
                        .Set("$id", SqliteValues.Id(account.Id))
                        .Set("$tenant", SqliteValues.Id(account.TenantId))
                        .Set("$channel", (int)account.Channel)
                        .Set("$kind", account.Kind)
                        .Set("$name", account.Name)
                        .Set("$settings", settings)
                        .Set("$weight", account.Weight)
                        .Set("$enabled", account.Enabled ? 1 : 0)
                        .Set("$at", SqliteValues.Ms(account.CreatedAt))
                        .Set("$rate", account.RatePerSecond)
                        .Set("$prices", ProviderRows.PricesJson(account.Prices))
                        .Set("$isolated", account.Isolated ? 1 : 0)
                        .Set("$identity", SqliteValues.Text(account.SenderIdentity))
                        .ExecuteNonQuery();
                }

                if (rows.Count > 0)
                {
                    SqliteAuditStore.AppendPending(scope, rows.Count == 1 ? SqliteValues.Id(rows[0].Account.Id) : "*");
                }

                return 0;
            },
            ct)).ConfigureAwait(false);
        // Return what a read would return: times are kept to the millisecond.
        IReadOnlyList<ProviderAccount> stored = [.. accounts.Select(static a => a with { CreatedAt = SqliteValues.Time(SqliteValues.Ms(a.CreatedAt)) })];
        if (StoreChanges.Providers(stored) is { } change)
        {
            await changes.CommittedAsync(change).ConfigureAwait(false);
        }

        return stored;
    }

    public Task<IReadOnlyList<ProviderAccount>> ListAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<ProviderAccount>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM provider_accounts WHERE tenant_id = $tenant AND deleted_at IS NULL ORDER BY created_at, id";
                command.Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadAll(Read);
            },
            ct);

    public Task<IReadOnlyList<ProviderAccount>> ListEnabledAsync(CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<ProviderAccount>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM provider_accounts WHERE enabled = 1 AND deleted_at IS NULL ORDER BY tenant_id, created_at, id";
                return command.ReadAll(Read);
            },
            ct);

    public Task<ProviderAccount?> GetAsync(Guid tenantId, Guid id, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM provider_accounts WHERE id = $id AND tenant_id = $tenant AND deleted_at IS NULL";
                command.Set("$id", SqliteValues.Id(id));
                command.Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadAll(Read).FirstOrDefault();
            },
            ct);

    public async Task<ProviderAccount?> UpdateAsync(ProviderAccount account, CancellationToken ct)
    {
        var settings = ProviderRows.Protect(protector, account.Id, account.Settings);
        var changed = await IdentityGuardedAsync(() => db.WriteAsync(
            scope => SqliteAuditStore.Audited(scope, scope.Command(
                    """
                    UPDATE provider_accounts
                    SET name = $name, settings = $settings, weight = $weight, enabled = $enabled, rate_per_second = $rate, prices = $prices, isolated = $isolated,
                        sender_identity = $identity
                    WHERE id = $id AND tenant_id = $tenant AND deleted_at IS NULL
                    """)
                .Set("$id", SqliteValues.Id(account.Id))
                .Set("$tenant", SqliteValues.Id(account.TenantId))
                .Set("$name", account.Name)
                .Set("$settings", settings)
                .Set("$weight", account.Weight)
                .Set("$enabled", account.Enabled ? 1 : 0)
                .Set("$rate", account.RatePerSecond)
                .Set("$prices", ProviderRows.PricesJson(account.Prices))
                .Set("$isolated", account.Isolated ? 1 : 0)
                .Set("$identity", SqliteValues.Text(account.SenderIdentity))
                .ExecuteNonQuery()),
            ct)).ConfigureAwait(false);
        if (changed == 0)
        {
            return null;
        }

        await changes.CommittedAsync(StoreChanges.Providers([account])!).ConfigureAwait(false);
        return await GetAsync(account.TenantId, account.Id, ct).ConfigureAwait(false);
    }

    public async Task<ProviderDeleteResult> DeleteAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        var now = SqliteValues.Ms(db.Time.GetUtcNow());
        var changed = await db.WriteAsync(
            scope => SqliteAuditStore.Audited(scope, scope.Command("UPDATE provider_accounts SET deleted_at = $now, enabled = 0 WHERE id = $id AND tenant_id = $tenant AND deleted_at IS NULL")
                .Set("$id", SqliteValues.Id(id))
                .Set("$tenant", SqliteValues.Id(tenantId))
                .Set("$now", now)
                .ExecuteNonQuery()),
            ct).ConfigureAwait(false);
        if (changed == 0)
        {
            return ProviderDeleteResult.NotFound;
        }

        await changes.CommittedAsync(StoreChanges.Provider(tenantId, id)).ConfigureAwait(false);
        return ProviderDeleteResult.Deleted;
    }

    public Task<IReadOnlyList<CostTotal>> GetCostsAsync(CostQuery query, CancellationToken ct)
    {
        var channel = query.GroupBy.HasFlag(CostGrouping.Channel);
        var provider = query.GroupBy.HasFlag(CostGrouping.Provider);
        var day = query.GroupBy.HasFlag(CostGrouping.Day);
        // Costs are exact decimals kept as text: SQLite would sum them as doubles. Grouping by the cost value as
        // well keeps the rows few (an account has few distinct prices) and lets the sum be done in decimal here.
        var sql = new StringBuilder("SELECT ")
            .Append(channel ? "a.channel" : "NULL").Append(", ")
            .Append(provider ? "a.provider_id, min(p.name)" : "NULL, NULL").Append(", ")
            .Append(day ? "a.created_at / 86400000" : "NULL").Append(", ")
            .Append("json_extract(p.prices, '$.currency'), count(*), a.cost ")
            .Append("FROM attempts a JOIN provider_accounts p ON p.id = a.provider_id ")
            .Append("WHERE a.tenant_id = $tenant AND a.created_at >= $from AND a.created_at < $to ")
            .Append("GROUP BY ")
            .Append(channel ? "a.channel, " : "")
            .Append(provider ? "a.provider_id, " : "")
            .Append(day ? "a.created_at / 86400000, " : "")
            .Append("json_extract(p.prices, '$.currency'), a.cost")
            .ToString();
        return db.ReadAsync<IReadOnlyList<CostTotal>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = sql;
                command.Set("$tenant", SqliteValues.Id(query.TenantId));
                command.Set("$from", SqliteValues.Ms(query.From));
                command.Set("$to", SqliteValues.Ms(query.To));
                var groups = new Dictionary<(int?, Guid?, long?, string?), (string? Name, long Count, decimal Cost)>();
                using var r = command.ExecuteReader();
                while (r.Read())
                {
                    var count = r.GetInt64(5);
                    var cost = r.IsDBNull(6) ? 0m : decimal.Parse(r.GetString(6), NumberStyles.Number, CultureInfo.InvariantCulture);
                    ProviderRows.Accumulate(
                        groups,
                        r.IsDBNull(0) ? null : r.GetInt32(0),
                        r.GetIdOrNull(1),
                        r.GetStringOrNull(2),
                        r.IsDBNull(3) ? null : DateOnly.FromDateTime(DateTimeOffset.UnixEpoch.UtcDateTime).DayNumber + r.GetInt64(3),
                        r.GetStringOrNull(4),
                        count,
                        cost * count);
                }

                return ProviderRows.Totals(groups);
            },
            ct);
    }

    private ProviderAccount Read(SqliteDataReader r)
    {
        var id = r.GetId(0);
        return new ProviderAccount(
            id,
            r.GetId(1),
            (Channel)r.GetInt16(2),
            r.GetString(3),
            r.GetString(4),
            ProviderRows.Unprotect(protector, id, r.GetString(5)),
            r.GetInt32(6),
            r.GetInt64(7) != 0,
            r.GetTime(8))
        {
            RatePerSecond = r.IsDBNull(9) ? null : r.GetDouble(9),
            Prices = ProviderRows.ReadPrices(r.GetStringOrNull(10)),
            Isolated = r.GetInt64(11) != 0,
            SenderIdentity = r.GetStringOrNull(12),
        };
    }

    /// <summary>The unique index on live accounts' sender identities refuses a second holder (SQLITE_CONSTRAINT_UNIQUE).</summary>
    private static async Task<T> IdentityGuardedAsync<T>(Func<Task<T>> write)
    {
        try
        {
            return await write().ConfigureAwait(false);
        }
        catch (SqliteException e) when (e.SqliteExtendedErrorCode == 2067 && e.Message.Contains("sender_identity", StringComparison.Ordinal))
        {
            throw new SenderIdentityTakenException("", e);
        }
    }

}
