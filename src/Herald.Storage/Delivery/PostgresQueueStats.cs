using Herald.Core.Notifications;
using Npgsql;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

/// <summary>Queue figures for metrics from the claim's index (queue_fair: lane, tenant, flow, due).</summary>
public sealed class PostgresQueueStats(NpgsqlDataSource dataSource) : IQueueStats
{
    // Depth: one bounded range per lane. Oldest due: the claim's loose scan over (lane, tenant, flow) with one seek
    // for each group's earliest entry, so its cost follows the number of groups, not of entries.
    private const string Sql = """
        WITH RECURSIVE present AS (
            (SELECT lane, tenant_id, flow_id FROM queue ORDER BY lane, tenant_id, flow_id LIMIT 1)
            UNION ALL
            SELECT nxt.lane, nxt.tenant_id, nxt.flow_id FROM present p CROSS JOIN LATERAL (
                SELECT q.lane, q.tenant_id, q.flow_id FROM queue q WHERE (q.lane, q.tenant_id, q.flow_id) > (p.lane, p.tenant_id, p.flow_id)
                ORDER BY q.lane, q.tenant_id, q.flow_id LIMIT 1) nxt
        ), oldest AS (
            SELECT p.lane, min((SELECT min(q.due_at) FROM queue q WHERE q.lane = p.lane AND q.tenant_id = p.tenant_id AND q.flow_id = p.flow_id)) AS due_at
            FROM present p GROUP BY p.lane
        )
        SELECT l.lane,
               (SELECT count(*) FROM (SELECT 1 FROM queue q WHERE q.lane = l.lane LIMIT @cap) x),
               o.due_at
        FROM (VALUES (0::smallint), (1::smallint), (2::smallint), (3::smallint)) l(lane)
        LEFT JOIN oldest o ON o.lane = l.lane
        ORDER BY l.lane
        """;

    public async Task<IReadOnlyList<QueueLaneSample>> SampleAsync(long depthCap, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(Sql);
        cmd.Parameters.Add(Param("cap", Math.Max(0, depthCap)));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var lanes = new List<QueueLaneSample>(4);
        while (await r.ReadAsync(ct))
        {
            DateTimeOffset? oldest = r.IsDBNull(2) ? null : new DateTimeOffset(DateTime.SpecifyKind(r.GetDateTime(2), DateTimeKind.Utc));
            lanes.Add(new QueueLaneSample((Priority)r.GetInt16(0), r.GetInt64(1), oldest));
        }

        return lanes;
    }
}
