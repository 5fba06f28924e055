using System.Text;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Storage.Secrets;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresProviderStore(NpgsqlDataSource dataSource, ChangeFeed changes, ISecretProtector protector) : IProviderStore
{
    private const string Columns = "id, tenant_id, channel, kind, name, settings, weight, enabled, created_at, rate_per_second, prices::text, isolated, sender_identity";

    public async Task<ProviderAccount> CreateAsync(ProviderAccount account, CancellationToken ct) =>
        (await CreateManyAsync([account], ct))[0];

    public async Task<IReadOnlyList<ProviderAccount>> CreateManyAsync(IReadOnlyList<ProviderAccount> accounts, CancellationToken ct)
    {
        var stored = accounts.Select(static a => a with
        {
            Id = a.Id == Guid.Empty ? TimeOrderedIds.New(a.CreatedAt) : a.Id,
            CreatedAt = Utc(a.CreatedAt),
        }).ToList();
        return await changes.WriteAsync(async connection =>
        {
            foreach (var account in stored)
            {
                await using var cmd = new NpgsqlCommand(
                    """
                    INSERT INTO provider_accounts (id, tenant_id, channel, kind, name, settings, weight, enabled, created_at, rate_per_second, prices, isolated, sender_identity)
                    VALUES (@id, @tenant, @channel, @kind, @name, @settings, @weight, @enabled, @created, @rate, @prices, @isolated, @identity)
                    """,
                    connection);
                cmd.Parameters.Add(Param("id", account.Id));
                cmd.Parameters.Add(Param("tenant", account.TenantId));
                cmd.Parameters.Add(Param("channel", (short)account.Channel));
                cmd.Parameters.Add(Param("kind", account.Kind));
                AddMutable(cmd, account);
                cmd.Parameters.Add(Param("created", account.CreatedAt));
                await IdentityGuardedAsync(account.SenderIdentity, () => cmd.ExecuteNonQueryAsync(ct));
            }

            return ((IReadOnlyList<ProviderAccount>)stored, StoreChanges.Providers(stored));
        }, ct);
    }

    public async Task<IReadOnlyList<ProviderAccount>> ListAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM provider_accounts WHERE tenant_id = @tenant AND deleted_at IS NULL ORDER BY created_at, id");
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await ReadAllAsync(cmd, ct);
    }

    public async Task<IReadOnlyList<ProviderAccount>> ListEnabledAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM provider_accounts WHERE enabled AND deleted_at IS NULL ORDER BY tenant_id, created_at, id");
        return await ReadAllAsync(cmd, ct);
    }

    public async Task<ProviderAccount?> GetAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM provider_accounts WHERE id = @id AND tenant_id = @tenant AND deleted_at IS NULL");
        cmd.Parameters.Add(Param("id", id));
        cmd.Parameters.Add(Param("tenant", tenantId));
        var found = await ReadAllAsync(cmd, ct);
        return found.Count == 0 ? null : found[0];
    }

    public async Task<ProviderAccount?> UpdateAsync(ProviderAccount account, CancellationToken ct)
    {
        return await changes.WriteAsync(async connection =>
        {
            await using var cmd = new NpgsqlCommand(
                $"""
                UPDATE provider_accounts
                SET name = @name, settings = @settings, weight = @weight, enabled = @enabled, rate_per_second = @rate, prices = @prices, isolated = @isolated,
                    sender_identity = @identity
                WHERE id = @id AND tenant_id = @tenant AND deleted_at IS NULL
                RETURNING {Columns}
                """,
                connection);
            cmd.Parameters.Add(Param("id", account.Id));
            cmd.Parameters.Add(Param("tenant", account.TenantId));
            AddMutable(cmd, account);
            var updated = await IdentityGuardedAsync(account.SenderIdentity, () => ReadAllAsync(cmd, ct));
            return updated.Count == 0 ? (null, null) : (updated[0], StoreChanges.Providers(updated));
        }, ct);
    }

    public async Task<ProviderDeleteResult> DeleteAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        return await changes.WriteAsync<ProviderDeleteResult>(async connection =>
        {
            await using var cmd = new NpgsqlCommand(
                "UPDATE provider_accounts SET deleted_at = now(), enabled = false WHERE id = @id AND tenant_id = @tenant AND deleted_at IS NULL",
                connection);
            cmd.Parameters.Add(Param("id", id));
            cmd.Parameters.Add(Param("tenant", tenantId));
            return await cmd.ExecuteNonQueryAsync(ct) == 0
                ? (ProviderDeleteResult.NotFound, null)
                : (ProviderDeleteResult.Deleted, StoreChanges.Provider(tenantId, id));
        }, ct);
    }

    public async Task<IReadOnlyList<CostTotal>> GetCostsAsync(CostQuery query, CancellationToken ct)
    {
        var channel = query.GroupBy.HasFlag(CostGrouping.Channel);
        var provider = query.GroupBy.HasFlag(CostGrouping.Provider);
        var day = query.GroupBy.HasFlag(CostGrouping.Day);
        var sql = new StringBuilder("SELECT ")
            .Append(channel ? "a.channel" : "NULL::smallint").Append(", ")
            .Append(provider ? "a.provider_id, min(p.name)" : "NULL::uuid, NULL::text").Append(", ")
            .Append(day ? "(a.created_at AT TIME ZONE 'UTC')::date" : "NULL::date").Append(", ")
            .Append("p.prices->>'currency', count(*), coalesce(sum(a.cost), 0) ")
            .Append("FROM attempts a JOIN provider_accounts p ON p.id = a.provider_id ")
            .Append("WHERE a.tenant_id = @tenant AND a.created_at >= @from AND a.created_at < @to ")
            .Append("GROUP BY ")
            .Append(channel ? "a.channel, " : "")
            .Append(provider ? "a.provider_id, " : "")
            .Append(day ? "(a.created_at AT TIME ZONE 'UTC')::date, " : "")
            .Append("p.prices->>'currency'");
        await using var cmd = dataSource.CreateCommand(sql.ToString());
        cmd.Parameters.Add(Param("tenant", query.TenantId));
        cmd.Parameters.Add(Param("from", Utc(query.From)));
        cmd.Parameters.Add(Param("to", Utc(query.To)));
        var groups = new Dictionary<(int?, Guid?, long?, string?), (string? Name, long Count, decimal Cost)>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            ProviderRows.Accumulate(
                groups,
                r.IsDBNull(0) ? null : r.GetInt16(0),
                NullableGuid(r, 1),
                NullableString(r, 2),
                r.IsDBNull(3) ? null : r.GetFieldValue<DateOnly>(3).DayNumber,
                NullableString(r, 4),
                r.GetInt64(5),
                r.GetDecimal(6));
        }

        return ProviderRows.Totals(groups);
    }

    private void AddMutable(NpgsqlCommand cmd, ProviderAccount account)
    {
        cmd.Parameters.Add(Param("name", account.Name));
        cmd.Parameters.Add(Param("settings", ProviderRows.Protect(protector, account.Id, account.Settings)));
        cmd.Parameters.Add(Param("weight", account.Weight));
        cmd.Parameters.Add(Param("enabled", account.Enabled));
        cmd.Parameters.Add(new NpgsqlParameter<double?>("rate", NpgsqlDbType.Double) { TypedValue = account.RatePerSecond });
        cmd.Parameters.Add(Param("prices", NpgsqlDbType.Jsonb, ProviderRows.PricesJson(account.Prices)));
        cmd.Parameters.Add(Param("isolated", account.Isolated));
        cmd.Parameters.Add(Param("identity", NpgsqlDbType.Text, account.SenderIdentity));
    }

    /// <summary>The unique index on live accounts' sender identities decides a race between nodes: the loser's
    /// statement fails and its caller hears <see cref="SenderIdentityTakenException"/>.</summary>
    private static async Task<T> IdentityGuardedAsync<T>(string? identity, Func<Task<T>> write)
    {
        try
        {
            return await write();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == "provider_accounts_sender_identity")
        {
            throw new SenderIdentityTakenException(identity ?? "", e);
        }
    }

    private async Task<IReadOnlyList<ProviderAccount>> ReadAllAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ProviderAccount>();
        while (await r.ReadAsync(ct))
        {
            var id = r.GetGuid(0);
            list.Add(new ProviderAccount(
                id,
                r.GetGuid(1),
                (Channel)r.GetInt16(2),
                r.GetString(3),
                r.GetString(4),
                ProviderRows.Unprotect(protector, id, r.GetString(5)),
                r.GetInt32(6),
                r.GetBoolean(7),
                r.GetFieldValue<DateTimeOffset>(8))
            {
                RatePerSecond = r.IsDBNull(9) ? null : r.GetDouble(9),
                Prices = ProviderRows.ReadPrices(NullableString(r, 10)),
                Isolated = r.GetBoolean(11),
                SenderIdentity = NullableString(r, 12),
            });
        }

        return list;
    }
}
