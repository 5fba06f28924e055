using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresDeliveryStore(NpgsqlDataSource dataSource, ChangeFeed changes, TenantKeys keys) : IDeliveryStore
{
    // First: the statements below are built from it (static fields initialise in text order).
    private static readonly string Keep = StateSql.KeepsStoredAttemptState("attempts.state", "excluded.state");

    // Fair within a lane, strict between lanes (IDeliveryStore). A tenant's entries of a lane are split into flows
    // (flow_id: the source they came through, or the tenant itself for the plain API), and the flows present in the
    // lanes up to @lowest are found by a loose index scan on queue_fair (lane, tenant_id, flow_id, due_at): one probe
    // per (lane, tenant, flow), whatever the backlog. A tenant with due entries in a lane weighs its weight, split
    // evenly among its flows with due entries; a flow gets a share of @max in proportion to its weight (at least one)
    // and its oldest due entries up to that share are locked (SKIP LOCKED keeps concurrent claimers disjoint); a
    // flow's k-th entry ranks at k / weight, so the batch interleaves tenants by weight and a tenant's sources evenly.
    // So the cost is O(batch + flows), not O(backlog). "more" says a flow filled its share below @max: the caller
    // claims again for the rest of the batch (the entries just leased are no longer due), so a share one flow cannot
    // use goes to the others. Locked but unpicked entries (lower lanes) are released when the statement ends.
    private static readonly string ClaimSql =
        $"""
        WITH RECURSIVE present AS (
            (SELECT lane, tenant_id, flow_id FROM queue WHERE lane <= @lowest ORDER BY lane, tenant_id, flow_id LIMIT 1)
            UNION ALL
            SELECT nxt.lane, nxt.tenant_id, nxt.flow_id FROM present p CROSS JOIN LATERAL (
                SELECT q.lane, q.tenant_id, q.flow_id FROM queue q
                WHERE (q.lane, q.tenant_id, q.flow_id) > (p.lane, p.tenant_id, p.flow_id) AND q.lane <= @lowest
                ORDER BY q.lane, q.tenant_id, q.flow_id LIMIT 1) nxt
        ), due AS (
            SELECT p.lane, p.tenant_id, p.flow_id,
                   coalesce(t.weight, {TenantLimits.DefaultWeight})::float8 / count(*) OVER (PARTITION BY p.lane, p.tenant_id) AS weight
            FROM present p LEFT JOIN tenants t ON t.id = p.tenant_id
            WHERE EXISTS (SELECT 1 FROM queue q WHERE q.lane = p.lane AND q.tenant_id = p.tenant_id AND q.flow_id = p.flow_id AND q.due_at <= @now)
        ), shares AS (
            SELECT lane, tenant_id, flow_id, weight,
                   ceil(@max * weight / sum(weight) OVER (PARTITION BY lane))::int AS share
            FROM due
        ), candidates AS (
            SELECT c.notification_id, s.lane, s.tenant_id, s.flow_id, s.share, c.due_at, c.rn / s.weight AS rank
            FROM shares s CROSS JOIN LATERAL (
                SELECT x.notification_id, x.due_at, row_number() OVER (ORDER BY x.due_at) AS rn FROM (
                    SELECT q.notification_id, q.due_at FROM queue q
                    WHERE q.lane = s.lane AND q.tenant_id = s.tenant_id AND q.flow_id = s.flow_id AND q.due_at <= @now
                    ORDER BY q.due_at LIMIT s.share FOR UPDATE SKIP LOCKED) x
            ) c
        ), picked AS (
            SELECT notification_id, lane, rank, due_at FROM candidates ORDER BY lane, rank, due_at LIMIT @max
        ), capped AS (
            SELECT EXISTS (
                SELECT 1 FROM candidates c WHERE c.share < @max
                GROUP BY c.lane, c.tenant_id, c.flow_id, c.share HAVING count(*) >= c.share) AS more
        ), claimed AS (
            UPDATE queue q SET due_at = @lease_end
            FROM picked p
            WHERE q.notification_id = p.notification_id
            RETURNING q.notification_id
        )
        SELECT {NotificationColumns}, {AttemptColumns}, capped.more
        FROM claimed c
        JOIN picked p ON p.notification_id = c.notification_id
        CROSS JOIN capped
        JOIN notifications n ON n.id = c.notification_id
        LEFT JOIN attempts a ON a.notification_id = n.id AND a.state = {StateSql.AttemptSending}
        ORDER BY p.lane, p.rank, p.due_at, n.id, a.created_at, a.id
        """;

    /// <summary>Claim rounds at most per call: the first takes the weighted shares, the next ones hand what tenants
    /// with little due work left over to those with more. More rounds would only matter with shares of one.</summary>
    private const int MaxClaimRounds = 3;

    private const int AttemptColumnCount = 16;

    private static readonly string ApplySql =
        $"""
        WITH t AS (
            SELECT * FROM unnest(@u_id, @u_expected, @u_status, @u_channel, @u_step, @u_retries, @u_awaited, @u_due)
                AS t(id, expected, status, channel, step, retries, awaited, due_at)
        ), u AS (
            UPDATE notifications n
            SET status = t.status, channel = t.channel, step = t.step, retries = t.retries,
                awaited_attempt_id = t.awaited, version = n.version + 1, updated_at = @now,
                -- The overview's accept→delivered: the moment it became delivered, never moved by a later receipt.
                delivered_at = CASE WHEN n.delivered_at IS NULL AND t.status = {StateSql.Delivered} THEN @now ELSE n.delivered_at END
            FROM t
            WHERE n.id = t.id AND n.version = t.expected
            RETURNING n.id, n.tenant_id, coalesce(n.source_id, n.tenant_id) AS flow_id, n.priority, t.due_at
        ), a AS (
            INSERT INTO attempts ({AttemptInsertColumns})
            SELECT {string.Format(System.Globalization.CultureInfo.InvariantCulture, AttemptSelectFromX, "u.tenant_id")}
            FROM {AttemptUnnest}
            JOIN u ON u.id = x.notification_id
            ON CONFLICT (id) DO UPDATE SET
                -- Delivered and read are never undone; read beats delivered.
                state = CASE WHEN {Keep} THEN attempts.state ELSE excluded.state END,
                -- The first non-null provider fields and cost stay; a later write only fills what is missing.
                provider_id = coalesce(attempts.provider_id, excluded.provider_id),
                provider_name = coalesce(attempts.provider_name, excluded.provider_name),
                provider_message_id = coalesce(attempts.provider_message_id, excluded.provider_message_id),
                failure_kind = CASE WHEN {Keep} THEN attempts.failure_kind ELSE excluded.failure_kind END,
                error_code = CASE WHEN {Keep} THEN attempts.error_code ELSE excluded.error_code END,
                error = CASE WHEN {Keep} THEN attempts.error ELSE excluded.error END,
                cost = coalesce(attempts.cost, excluded.cost),
                sent_at = coalesce(attempts.sent_at, excluded.sent_at),
                delivered_at = coalesce(attempts.delivered_at, excluded.delivered_at),
                updated_at = greatest(attempts.updated_at, excluded.updated_at)
            RETURNING attempts.provider_id, attempts.provider_message_id
        ), removed AS (
            DELETE FROM queue q USING u WHERE q.notification_id = u.id AND u.due_at IS NULL
        ), moved AS (
            INSERT INTO queue (notification_id, tenant_id, flow_id, lane, due_at, enqueued_at)
            SELECT u.id, u.tenant_id, u.flow_id, u.priority, u.due_at, @now FROM u WHERE u.due_at IS NOT NULL
            ON CONFLICT (notification_id) DO UPDATE SET due_at = excluded.due_at
        ), receipts AS (
            -- Keyed by (account, message id): a receipt parked by one account never lands on another's attempt.
            DELETE FROM pending_receipts p
            USING a
            WHERE p.provider_id = a.provider_id AND p.provider_message_id = a.provider_message_id
            RETURNING p.provider_id, p.provider_message_id, p.state, p.error_code, p.error, p.received_at
        )
        SELECT 0 AS kind, u.id, NULL::uuid, NULL::text, NULL::smallint, NULL::text, NULL::text, NULL::timestamptz FROM u
        UNION ALL
        SELECT 1, NULL, r.provider_id, r.provider_message_id, r.state, r.error_code, r.error, r.received_at FROM receipts r
        """;

    // Stores nothing when any attempt names a notification that does not exist, and returns that notification id
    // so the caller can throw; otherwise returns no row.
    private static readonly string BeginAttemptsSql =
        $"""
        WITH missing AS (
            SELECT m.id FROM unnest(@a_notification) AS m(id)
            WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = m.id)
            LIMIT 1
        ), ins AS (
            INSERT INTO attempts ({AttemptInsertColumns})
            SELECT {string.Format(System.Globalization.CultureInfo.InvariantCulture, AttemptSelectFromX, "n.tenant_id")}
            FROM {AttemptUnnest}
            JOIN notifications n ON n.id = x.notification_id
            WHERE NOT EXISTS (SELECT 1 FROM missing)
            ON CONFLICT (id) DO NOTHING
        )
        SELECT id FROM missing
        """;

    public async Task<IReadOnlyList<ClaimedNotification>> ClaimAsync(int max, TimeSpan lease, DateTimeOffset now, Priority lowestLane, CancellationToken ct)
    {
        var claimed = new List<ClaimedNotification>();
        for (var round = 0; round < MaxClaimRounds && claimed.Count < max; round++)
        {
            if (!await ClaimRoundAsync(max - claimed.Count, lease, now, lowestLane, claimed, ct))
            {
                break;
            }
        }

        return claimed;
    }

    /// <summary>One fair claim statement; true when a tenant filled its share, so another round may find more.</summary>
    private async Task<bool> ClaimRoundAsync(int max, TimeSpan lease, DateTimeOffset now, Priority lowestLane, List<ClaimedNotification> claimed, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(ClaimSql);
        cmd.Parameters.Add(Param("now", Utc(now)));
        cmd.Parameters.Add(Param("lease_end", Utc(now + lease)));
        cmd.Parameters.Add(Param("max", max));
        cmd.Parameters.Add(Param("lowest", (short)lowestLane));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var more = false;
        Notification? current = null;
        List<Attempt>? inFlight = null;
        while (await r.ReadAsync(ct))
        {
            more = r.GetBoolean(NotificationColumnCount + AttemptColumnCount);
            var id = r.GetGuid(0);
            if (current is null || current.Id != id)
            {
                if (current is not null)
                {
                    claimed.Add(new ClaimedNotification(current, inFlight!));
                }

                current = ReadNotification(r, keys);
                inFlight = [];
            }

            if (!r.IsDBNull(NotificationColumnCount))
            {
                inFlight!.Add(ReadAttempt(r, NotificationColumnCount));
            }
        }

        if (current is not null)
        {
            claimed.Add(new ClaimedNotification(current, inFlight!));
        }

        return more;
    }

    public Task WaitForWorkAsync(TimeSpan maxWait, CancellationToken ct) => changes.WaitForWorkAsync(maxWait, ct);

    public async Task<DateTimeOffset?> NextDueAsync(CancellationToken ct)
    {
        // A loose index scan over queue_fair: per (lane, tenant, flow) present, one probe for its earliest entry.
        await using var cmd = dataSource.CreateCommand(
            """
            WITH RECURSIVE present AS (
                (SELECT lane, tenant_id, flow_id FROM queue ORDER BY lane, tenant_id, flow_id LIMIT 1)
                UNION ALL
                SELECT nxt.lane, nxt.tenant_id, nxt.flow_id FROM present p CROSS JOIN LATERAL (
                    SELECT q.lane, q.tenant_id, q.flow_id FROM queue q WHERE (q.lane, q.tenant_id, q.flow_id) > (p.lane, p.tenant_id, p.flow_id)
                    ORDER BY q.lane, q.tenant_id, q.flow_id LIMIT 1) nxt
            )
            SELECT min((SELECT min(q.due_at) FROM queue q WHERE q.lane = p.lane AND q.tenant_id = p.tenant_id AND q.flow_id = p.flow_id))
            FROM present p
            """);
        var value = await cmd.ExecuteScalarAsync(ct);
        return value is DateTime dt ? new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)) : value as DateTimeOffset?;
    }

    public async Task BeginAttemptsAsync(IReadOnlyList<Attempt> attempts, CancellationToken ct)
    {
        if (attempts.Count == 0)
        {
            return;
        }

        await using var cmd = dataSource.CreateCommand(BeginAttemptsSql);
        AddAttemptArrays(cmd.Parameters, attempts);
        if (await cmd.ExecuteScalarAsync(ct) is Guid missing)
        {
            throw new InvalidOperationException($"An attempt names notification {missing}, which does not exist; no attempt was stored.");
        }
    }

    public async Task<ApplyResult> ApplyAsync(IReadOnlyList<DeliveryUpdate> updates, DateTimeOffset now, CancellationToken ct)
    {
        if (updates.Count == 0)
        {
            return new ApplyResult([], []);
        }

        var utcNow = Utc(now);
        // One UPDATE cannot change a row twice, so updates of the same notification go in successive rounds,
        // in input order, each seeing the version the previous one stored.
        var round = new int[updates.Count];
        var seen = new Dictionary<Guid, int>();
        var rounds = 1;
        for (var i = 0; i < updates.Count; i++)
        {
            seen.TryGetValue(updates[i].NotificationId, out var count);
            round[i] = count;
            seen[updates[i].NotificationId] = count + 1;
            rounds = Math.Max(rounds, count + 1);
        }

        var applied = new bool[updates.Count];
        var receipts = new List<PendingReceipt>();
        var wake = updates.Any(u => u.Transition.Queue.DueAt is { } due && due <= now);

        await using var conn = await dataSource.OpenConnectionAsync(ct);
        // A single round runs as one batch (an implicit transaction); several need an explicit one.
        await using var tx = rounds > 1 ? await conn.BeginTransactionAsync(ct) : null;
        for (var k = 0; k < rounds; k++)
        {
            var indexes = Enumerable.Range(0, updates.Count).Where(i => round[i] == k).ToList();
            var appliedIds = await ApplyRoundAsync(conn, tx, [.. indexes.Select(i => updates[i])], utcNow, receipts, ct);
            foreach (var i in indexes)
            {
                applied[i] = appliedIds.Contains(updates[i].NotificationId);
            }
        }

        if (tx is not null)
        {
            await tx.CommitAsync(ct);
        }

        if (wake && applied.Any(a => a))
        {
            await ChangeFeed.NotifyWorkAsync(conn);
        }

        return new ApplyResult(applied, [.. receipts.OrderBy(r => r.ReceivedAt)]);
    }

    private static async Task<HashSet<Guid>> ApplyRoundAsync(
        NpgsqlConnection conn, NpgsqlTransaction? tx, IReadOnlyList<DeliveryUpdate> updates, DateTimeOffset now,
        List<PendingReceipt> receipts, CancellationToken ct)
    {
        var n = updates.Count;
        var id = new Guid[n];
        var expected = new int[n];
        var status = new short[n];
        var channel = new short?[n];
        var step = new int[n];
        var retries = new int[n];
        var awaited = new Guid?[n];
        var due = new DateTimeOffset?[n];
        // The same attempt written twice in one statement would fail the upsert; the last write wins.
        var attempts = new Dictionary<Guid, Attempt>();
        for (var i = 0; i < n; i++)
        {
            var u = updates[i];
            var t = u.Transition;
            id[i] = u.NotificationId;
            expected[i] = u.ExpectedVersion;
            status[i] = (short)t.Status;
            channel[i] = t.DeliveredChannel is { } c ? (short)c : null;
            step[i] = t.Progress.Step;
            retries[i] = t.Progress.Retries;
            awaited[i] = t.Progress.AwaitedAttemptId;
            due[i] = Utc(t.Queue.DueAt);
            foreach (var attempt in u.Attempts)
            {
                attempts[attempt.Id] = attempt;
            }
        }

        await using var cmd = new NpgsqlCommand(ApplySql, conn, tx);
        cmd.Parameters.Add(Param("now", now));
        cmd.Parameters.Add(Array("u_id", NpgsqlDbType.Uuid, id));
        cmd.Parameters.Add(Array("u_expected", NpgsqlDbType.Integer, expected));
        cmd.Parameters.Add(Array("u_status", NpgsqlDbType.Smallint, status));
        cmd.Parameters.Add(Array("u_channel", NpgsqlDbType.Smallint, channel));
        cmd.Parameters.Add(Array("u_step", NpgsqlDbType.Integer, step));
        cmd.Parameters.Add(Array("u_retries", NpgsqlDbType.Integer, retries));
        cmd.Parameters.Add(Array("u_awaited", NpgsqlDbType.Uuid, awaited));
        cmd.Parameters.Add(Array("u_due", NpgsqlDbType.TimestampTz, due));
        AddAttemptArrays(cmd.Parameters, [.. attempts.Values]);

        var appliedIds = new HashSet<Guid>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            if (r.GetInt32(0) == 0)
            {
                appliedIds.Add(r.GetGuid(1));
            }
            else
            {
                receipts.Add(ReadPendingReceipt(r, 2));
            }
        }

        return appliedIds;
    }

    public async Task<(Notification Notification, Attempt Attempt)?> FindByProviderMessageIdAsync(Guid providerId, string providerMessageId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"""
            SELECT {NotificationColumns}, {AttemptColumns}
            FROM attempts a JOIN notifications n ON n.id = a.notification_id
            WHERE a.provider_message_id = @pmid AND a.provider_id = @provider
            ORDER BY a.created_at DESC, a.id DESC
            LIMIT 1
            """);
        cmd.Parameters.Add(Param("pmid", providerMessageId));
        cmd.Parameters.Add(Param("provider", providerId));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (ReadNotification(r, keys), ReadAttempt(r, NotificationColumnCount)) : null;
    }

    public async Task<IReadOnlyDictionary<string, (Notification Notification, Attempt Attempt)>> FindByProviderMessageIdsAsync(
        Guid providerId, IReadOnlyCollection<string> providerMessageIds, CancellationToken ct)
    {
        var found = new Dictionary<string, (Notification, Attempt)>(StringComparer.Ordinal);
        if (providerMessageIds.Count == 0)
        {
            return found;
        }

        // One index probe per id on attempts_provider_message; per id the newest attempt, as in the single lookup.
        await using var cmd = dataSource.CreateCommand(
            $"""
            SELECT DISTINCT ON (a.provider_message_id) {NotificationColumns}, {AttemptColumns}
            FROM attempts a JOIN notifications n ON n.id = a.notification_id
            WHERE a.provider_message_id = ANY(@pmids) AND a.provider_id = @provider
            ORDER BY a.provider_message_id, a.created_at DESC, a.id DESC
            """);
        cmd.Parameters.Add(Param("provider", providerId));
        cmd.Parameters.Add(Array("pmids", NpgsqlDbType.Text, providerMessageIds.Distinct(StringComparer.Ordinal).ToArray()));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var attempt = ReadAttempt(r, NotificationColumnCount);
            found[attempt.ProviderMessageId!] = (ReadNotification(r, keys), attempt);
        }

        return found;
    }

    public async Task SavePendingReceiptAsync(PendingReceipt receipt, CancellationToken ct)
    {
        // A later receipt replaces an earlier one unless it would step back (read > delivered > failed > sent),
        // since providers do not promise to report in order.
        await using var cmd = dataSource.CreateCommand(
            $"""
            INSERT INTO pending_receipts (provider_id, provider_message_id, state, error_code, error, received_at)
            VALUES (@provider, @pmid, @state, @code, @error, @received)
            ON CONFLICT (provider_id, provider_message_id) DO UPDATE SET
                state = excluded.state, error_code = excluded.error_code, error = excluded.error, received_at = excluded.received_at
            WHERE {StateSql.ReceiptRank("excluded.state")} >= {StateSql.ReceiptRank("pending_receipts.state")}
            """);
        cmd.Parameters.Add(Param("provider", receipt.ProviderId));
        cmd.Parameters.Add(Param("pmid", receipt.ProviderMessageId));
        cmd.Parameters.Add(Param("state", (short)receipt.State));
        cmd.Parameters.Add(Param("code", NpgsqlDbType.Text, receipt.ErrorCode));
        cmd.Parameters.Add(Param("error", NpgsqlDbType.Text, receipt.Error));
        cmd.Parameters.Add(Param("received", Utc(receipt.ReceivedAt)));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<IReadOnlyList<PendingReceipt>> TakePendingReceiptsAsync(DateTimeOffset olderThan, int max, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            DELETE FROM pending_receipts p
            WHERE (p.provider_id, p.provider_message_id) IN (
                SELECT provider_id, provider_message_id FROM pending_receipts
                WHERE received_at < @older
                ORDER BY received_at
                LIMIT @max
                FOR UPDATE SKIP LOCKED)
            RETURNING p.provider_id, p.provider_message_id, p.state, p.error_code, p.error, p.received_at
            """);
        cmd.Parameters.Add(Param("older", Utc(olderThan)));
        cmd.Parameters.Add(Param("max", Math.Max(0, max)));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<PendingReceipt>();
        while (await r.ReadAsync(ct))
        {
            list.Add(ReadPendingReceipt(r));
        }

        return [.. list.OrderBy(p => p.ReceivedAt)];
    }

    public async Task<int> PromoteAgedAsync(TimeSpan age, int max, int perTenant, DateTimeOffset now, CancellationToken ct)
    {
        // Lanes normal and low only, so nothing is ever promoted into critical. enqueued_at restarts, so a
        // promoted entry ages again before its next promotion. Per tenant present in the lane (a loose index scan),
        // the oldest aged entries up to its room in the lane above (queue_aging: lane, tenant_id, enqueued_at).
        var moved = 0;
        // Normal first: a low entry promoted into normal gets a fresh enqueue time, so it cannot move twice here.
        foreach (var lane in (Priority[])[Priority.Normal, Priority.Low])
        {
            if (moved >= max)
            {
                break;
            }

            await using var cmd = dataSource.CreateCommand(
                """
                WITH RECURSIVE present AS (
                    (SELECT tenant_id FROM queue WHERE lane = @lane ORDER BY tenant_id LIMIT 1)
                    UNION ALL
                    SELECT nxt.tenant_id FROM present p CROSS JOIN LATERAL (
                        SELECT q.tenant_id FROM queue q WHERE q.lane = @lane AND q.tenant_id > p.tenant_id
                        ORDER BY q.tenant_id LIMIT 1) nxt
                ), room AS (
                    SELECT p.tenant_id, @room - (
                        SELECT count(*) FROM (SELECT 1 FROM queue q WHERE q.lane = @lane - 1 AND q.tenant_id = p.tenant_id LIMIT @room) x) AS room
                    FROM present p
                ), aged AS (
                    SELECT a.notification_id FROM room r CROSS JOIN LATERAL (
                        SELECT q.notification_id FROM queue q
                        WHERE q.lane = @lane AND q.tenant_id = r.tenant_id AND q.enqueued_at < @cutoff
                        ORDER BY q.enqueued_at LIMIT r.room FOR UPDATE SKIP LOCKED) a
                    LIMIT @max
                )
                UPDATE queue q SET lane = q.lane - 1, enqueued_at = @now
                FROM aged WHERE q.notification_id = aged.notification_id
                """);
            cmd.Parameters.Add(Param("lane", (short)lane));
            cmd.Parameters.Add(Param("room", (long)Math.Max(0, perTenant)));
            cmd.Parameters.Add(Param("cutoff", Utc(now - age)));
            cmd.Parameters.Add(Param("now", Utc(now)));
            cmd.Parameters.Add(Param("max", Math.Max(0, max - moved)));
            moved += await cmd.ExecuteNonQueryAsync(ct);
        }

        return moved;
    }

    public async Task<long[]> QueueDepthAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT lane, count(*) FROM queue GROUP BY lane");
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var depth = new long[4];
        while (await r.ReadAsync(ct))
        {
            var lane = r.GetInt16(0);
            if (lane is >= 0 and < 4)
            {
                depth[lane] = r.GetInt64(1);
            }
        }

        return depth;
    }

    public async Task<long> CountQueuedAsync(Guid tenantId, long atMost, CancellationToken ct)
    {
        // One bounded range per lane on queue_fair; a count stops at atMost, whatever the backlog.
        await using var cmd = dataSource.CreateCommand(
            $"""
            SELECT count(*) FROM (
                (SELECT 1 FROM queue WHERE lane = {StateSql.Lane(Priority.Critical)} AND tenant_id = @tenant LIMIT @cap)
                UNION ALL (SELECT 1 FROM queue WHERE lane = {StateSql.Lane(Priority.High)} AND tenant_id = @tenant LIMIT @cap)
                UNION ALL (SELECT 1 FROM queue WHERE lane = {StateSql.Lane(Priority.Normal)} AND tenant_id = @tenant LIMIT @cap)
                UNION ALL (SELECT 1 FROM queue WHERE lane = {StateSql.Lane(Priority.Low)} AND tenant_id = @tenant LIMIT @cap)
                LIMIT @cap) x
            """);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("cap", Math.Max(0, atMost)));
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }
}
