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

    // A window is done when none of its members' notifications is short of a final state (status 3 and up: delivered,
    // failed, expired, suppressed, cancelled). The window row is rechecked in the outer WHERE, so a join that reopens
    // the key at the same moment (its row then closes in the future) is not deleted.
    private static readonly string DeleteSentSql =
        $"""
        WITH doomed AS (
            SELECT m.notification_id FROM digest_members m
            WHERE m.closes_at < @before
              AND NOT EXISTS (
                  SELECT 1 FROM digest_members o JOIN notifications n ON n.id = o.notification_id
                  WHERE o.tenant_id = m.tenant_id AND o.digest_key = m.digest_key AND o.closes_at = m.closes_at AND {StateSql.NotFinal("n.status")})
            LIMIT @max),
        deleted AS (
            DELETE FROM digest_members d USING doomed WHERE d.notification_id = doomed.notification_id
            RETURNING 1)
        SELECT count(*)::int FROM deleted
        """;

    private const string DeleteWindowsSql =
        """
        DELETE FROM digest_windows w
        WHERE w.closes_at < @before
          AND (w.tenant_id, w.digest_key) IN (
              SELECT x.tenant_id, x.digest_key FROM digest_windows x
              WHERE x.closes_at < @before
                AND NOT EXISTS (SELECT 1 FROM digest_members m
                                WHERE m.tenant_id = x.tenant_id AND m.digest_key = x.digest_key AND m.closes_at = x.closes_at)
              LIMIT @max)
        """;

    public async Task<int> DeleteSentAsync(DateTimeOffset closedBefore, int max, CancellationToken ct)
    {
        int deleted;
        await using (var cmd = dataSource.CreateCommand(DeleteSentSql))
        {
            cmd.Parameters.Add(Param("before", Utc(closedBefore)));
            cmd.Parameters.Add(Param("max", max));
            deleted = (int)(await cmd.ExecuteScalarAsync(ct))!;
        }

        // The members go first: a window row whose members were just deleted goes in the same run.
        await using (var cmd = dataSource.CreateCommand(DeleteWindowsSql))
        {
            cmd.Parameters.Add(Param("before", Utc(closedBefore)));
            cmd.Parameters.Add(Param("max", max));
            await cmd.ExecuteNonQueryAsync(ct);
        }

        return deleted;
    }
}
