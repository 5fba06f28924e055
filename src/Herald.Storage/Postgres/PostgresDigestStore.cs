using Npgsql;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresDigestStore(NpgsqlDataSource dataSource) : IDigestStore
{
    // One statement: the window row is upserted (kept while open, replaced once closed) and the member row inserted
    // with the window's closing time, so two nodes joining at once land in the same window.
    private const string JoinSql =
        """
        WITH w AS (
            INSERT INTO digest_windows (tenant_id, digest_key, closes_at) VALUES (@tenant, @key, @closes)
            ON CONFLICT (tenant_id, digest_key) DO UPDATE
            SET closes_at = CASE WHEN digest_windows.closes_at > @now THEN digest_windows.closes_at ELSE excluded.closes_at END
            RETURNING closes_at)
        INSERT INTO digest_members (notification_id, tenant_id, digest_key, closes_at, joined_at)
        SELECT @id, @tenant, @key, w.closes_at, @now FROM w
        ON CONFLICT (notification_id) DO UPDATE SET notification_id = excluded.notification_id
        RETURNING closes_at
        """;

    public async Task<DateTimeOffset> JoinAsync(Guid tenantId, string key, Guid notificationId, DateTimeOffset now, TimeSpan window, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(JoinSql);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("key", key));
        cmd.Parameters.Add(Param("id", notificationId));
        cmd.Parameters.Add(Param("now", Utc(now)));
        cmd.Parameters.Add(Param("closes", Utc(now + window)));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return r.GetFieldValue<DateTimeOffset>(0);
    }

    public async Task<IReadOnlyList<Guid>> MembersAsync(Guid tenantId, string key, DateTimeOffset closesAt, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT m.notification_id FROM digest_members m JOIN notifications n ON n.id = m.notification_id
            WHERE m.tenant_id = @tenant AND m.digest_key = @key AND m.closes_at = @closes
            ORDER BY m.joined_at, m.notification_id
            """);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("key", key));
        cmd.Parameters.Add(Param("closes", Utc(closesAt)));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<Guid>();
        while (await r.ReadAsync(ct))
        {
            list.Add(r.GetGuid(0));
        }

        return list;
    }
}
