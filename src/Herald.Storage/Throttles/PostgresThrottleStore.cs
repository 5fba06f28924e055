using Npgsql;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresThrottleStore(NpgsqlDataSource dataSource) : IThrottleStore
{
    // Upserting the group row locks it until the transaction ends: admissions of one group queue here, on every node.
    private const string LockGroupSql =
        """
        INSERT INTO throttle_groups (tenant_id, group_key, touched_at) VALUES (@tenant, @key, @now)
        ON CONFLICT (tenant_id, group_key) DO UPDATE SET touched_at = greatest(throttle_groups.touched_at, excluded.touched_at)
        """;

    // A separate statement after the lock, so under READ COMMITTED its snapshot includes every send committed by the
    // admission that held the lock before. The count stops at max: a group's full window is never scanned further.
    private const string AdmitSql =
        """
        WITH prior AS (
            SELECT 1 FROM throttle_sends WHERE notification_id = @id
        ), ins AS (
            INSERT INTO throttle_sends (notification_id, tenant_id, group_key, sent_at)
            SELECT @id, @tenant, @key, @now
            WHERE NOT EXISTS (SELECT 1 FROM prior)
              AND (SELECT count(*) FROM (
                    SELECT 1 FROM throttle_sends
                    WHERE tenant_id = @tenant AND group_key = @key AND sent_at > @since
                    LIMIT @max) AS s) < @max
            RETURNING 1)
        SELECT EXISTS (SELECT 1 FROM prior) OR EXISTS (SELECT 1 FROM ins)
        """;

    public async Task<bool> AdmitAsync(Guid tenantId, string key, Guid notificationId, int max, TimeSpan per, DateTimeOffset now, CancellationToken ct)
    {
        var utcNow = Utc(now);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var batch = new NpgsqlBatch(conn, tx);
        var lockGroup = new NpgsqlBatchCommand(LockGroupSql);
        lockGroup.Parameters.Add(Param("tenant", tenantId));
        lockGroup.Parameters.Add(Param("key", key));
        lockGroup.Parameters.Add(Param("now", utcNow));
        batch.BatchCommands.Add(lockGroup);
        var admit = new NpgsqlBatchCommand(AdmitSql);
        admit.Parameters.Add(Param("id", notificationId));
        admit.Parameters.Add(Param("tenant", tenantId));
        admit.Parameters.Add(Param("key", key));
        admit.Parameters.Add(Param("now", utcNow));
        admit.Parameters.Add(Param("since", utcNow - per));
        admit.Parameters.Add(Param("max", (long)max));
        batch.BatchCommands.Add(admit);
        var admitted = (bool)(await batch.ExecuteScalarAsync(ct))!;
        await tx.CommitAsync(ct);
        return admitted;
    }

    public async Task<int> CountAsync(Guid tenantId, string key, TimeSpan per, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT count(*) FROM throttle_sends WHERE tenant_id = @tenant AND group_key = @key AND sent_at > @since");
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("key", key));
        cmd.Parameters.Add(Param("since", Utc(now) - per));
        return (int)(long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    public async Task<int> DeleteBeforeAsync(DateTimeOffset before, int max, CancellationToken ct)
    {
        // Sends are recorded at their group's touch time and touched_at only grows, so a group untouched since
        // 'before' has no send left that the window could still count.
        await using var batch = dataSource.CreateBatch();
        var sends = new NpgsqlBatchCommand(
            """
            WITH gone AS (
                DELETE FROM throttle_sends WHERE notification_id IN (
                    SELECT notification_id FROM throttle_sends WHERE sent_at < @before ORDER BY sent_at LIMIT @max FOR UPDATE SKIP LOCKED)
                RETURNING 1)
            SELECT count(*) FROM gone
            """);
        sends.Parameters.Add(Param("before", Utc(before)));
        sends.Parameters.Add(Param("max", Math.Max(0, max)));
        batch.BatchCommands.Add(sends);
        var groups = new NpgsqlBatchCommand(
            """
            DELETE FROM throttle_groups WHERE (tenant_id, group_key) IN (
                SELECT tenant_id, group_key FROM throttle_groups WHERE touched_at < @before LIMIT @max FOR UPDATE SKIP LOCKED)
            """);
        groups.Parameters.Add(Param("before", Utc(before)));
        groups.Parameters.Add(Param("max", Math.Max(0, max)));
        batch.BatchCommands.Add(groups);
        return (int)(long)(await batch.ExecuteScalarAsync(ct))!;
    }
}
