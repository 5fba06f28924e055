using Herald.Core.Notifications;

namespace Herald.Storage.Sqlite;

/// <summary>Queue figures for metrics from the claim's index (ix_queue_fair: lane, tenant, flow, due).</summary>
internal sealed class SqliteQueueStats(SqliteDatabase db) : IQueueStats
{
    // The same loose scan as the delivery store's next due time, grouped by lane; depth is one bounded range per lane.
    private const string Sql = """
        WITH RECURSIVE present(lane, tenant_id, flow_id) AS (
            SELECT * FROM (SELECT lane, tenant_id, flow_id FROM queue ORDER BY lane, tenant_id, flow_id LIMIT 1)
            UNION ALL
            SELECT (SELECT q.lane FROM queue q WHERE (q.lane, q.tenant_id, q.flow_id) > (p.lane, p.tenant_id, p.flow_id)
                    ORDER BY q.lane, q.tenant_id, q.flow_id LIMIT 1),
                   (SELECT q.tenant_id FROM queue q WHERE (q.lane, q.tenant_id, q.flow_id) > (p.lane, p.tenant_id, p.flow_id)
                    ORDER BY q.lane, q.tenant_id, q.flow_id LIMIT 1),
                   (SELECT q.flow_id FROM queue q WHERE (q.lane, q.tenant_id, q.flow_id) > (p.lane, p.tenant_id, p.flow_id)
                    ORDER BY q.lane, q.tenant_id, q.flow_id LIMIT 1)
            FROM present p WHERE p.lane IS NOT NULL
        ), oldest AS (
            SELECT p.lane, min((SELECT min(q.due_at) FROM queue q WHERE q.lane = p.lane AND q.tenant_id = p.tenant_id AND q.flow_id = p.flow_id)) AS due_at
            FROM present p WHERE p.lane IS NOT NULL GROUP BY p.lane
        ), lanes(lane) AS (VALUES (0), (1), (2), (3))
        SELECT l.lane, (SELECT count(*) FROM (SELECT 1 FROM queue q WHERE q.lane = l.lane LIMIT $cap)), o.due_at
        FROM lanes l LEFT JOIN oldest o ON o.lane = l.lane
        ORDER BY l.lane
        """;

    public Task<IReadOnlyList<QueueLaneSample>> SampleAsync(long depthCap, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<QueueLaneSample>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = Sql;
                command.Set("$cap", Math.Max(0, depthCap));
                using var reader = command.ExecuteReader();
                var lanes = new List<QueueLaneSample>(4);
                while (reader.Read())
                {
                    DateTimeOffset? oldest = reader.IsDBNull(2) ? null : SqliteValues.Time(reader.GetInt64(2));
                    lanes.Add(new QueueLaneSample((Priority)reader.GetInt32(0), reader.GetInt64(1), oldest));
                }

                return lanes;
            },
            ct);
}
