using Npgsql;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresErasureStore(NpgsqlDataSource dataSource) : IErasureStore
{
    // The target: the stored customer's id, or the inline phone or email. Null parameters match nothing.
    private const string Matches =
        "(n.customer_id = @customer OR n.contacts->>'phone' = @phone OR n.contacts->>'email' = @email)";

    private static readonly string InFlightSql =
        $"SELECT n.id FROM notifications n WHERE n.tenant_id = @tenant AND {Matches} AND {StateSql.NotFinal("n.status")} ORDER BY n.id LIMIT @max";

    // Every contact but the language, and every top-level data value, become the marker; keys stay (they say what
    // kind of data was sent, not what it was).
    private const string RedactSql =
        $$"""
        WITH target AS (
            SELECT n.id FROM notifications n
            WHERE n.tenant_id = @tenant AND n.id > @after AND {{Matches}}
            ORDER BY n.id LIMIT @batch
        )
        UPDATE notifications n SET
            contacts = (SELECT coalesce(jsonb_object_agg(key, CASE WHEN key = 'language' THEN value ELSE to_jsonb(@marker::text) END), '{}'::jsonb)
                        FROM jsonb_each(n.contacts)),
            data = CASE WHEN jsonb_typeof(n.data) = 'object'
                        THEN (SELECT coalesce(jsonb_object_agg(key, to_jsonb(@marker::text)), '{}'::jsonb) FROM jsonb_each(n.data))
                        ELSE to_jsonb(@marker::text) END
        FROM target WHERE n.id = target.id
        RETURNING n.id
        """;

    public async Task<IReadOnlyList<Guid>> InFlightAsync(Guid tenantId, ErasureTarget target, int max, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(InFlightSql);
        Bind(cmd, tenantId, target);
        cmd.Parameters.Add(Param("max", max));
        return await cmd.ReadAllAsync(static r => r.GetGuid(0), ct);
    }

    public async Task<(int Redacted, Guid? Last)> RedactAsync(Guid tenantId, ErasureTarget target, Guid? after, int batch, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(RedactSql);
        Bind(cmd, tenantId, target);
        cmd.Parameters.Add(Param("after", after ?? Guid.Empty));
        cmd.Parameters.Add(Param("batch", batch));
        cmd.Parameters.Add(Param("marker", IErasureStore.Marker));
        var ids = await cmd.ReadAllAsync(static r => r.GetGuid(0), ct);
        return (ids.Count, ids.Count == 0 ? null : ids.Max());
    }

    private static void Bind(NpgsqlCommand cmd, Guid tenantId, ErasureTarget target)
    {
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(new NpgsqlParameter<string?>("customer", target.CustomerId) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter<string?>("phone", target.Phone) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter<string?>("email", target.Email) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
    }
}
