using System.Globalization;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteDeliveryStore(SqliteDatabase db, TenantKeys keys) : IDeliveryStore
{
    // First: the statements below are built from it (static fields initialise in text order).
    private static readonly string Keep = StateSql.KeepsStoredAttemptState("attempts.state", "excluded.state");

    private const int Lanes = 4;

    // Fair within a lane, strict between lanes (IDeliveryStore), as the PostgreSQL claim: the flows (a tenant's
    // sources, or the tenant itself for the plain API) present in a lane are visited by seeking the next (tenant_id,
    // flow_id) on ix_queue_fair (lane, tenant_id, flow_id, due_at), one seek each; a tenant with due entries weighs
    // its weight split evenly among its flows with due entries, and a flow gets a weighted share of the batch, its
    // oldest due entries first.
    private const string NextFlow = """
        SELECT tenant_id, flow_id FROM queue WHERE lane = $lane AND (tenant_id, flow_id) > ($afterTenant, $afterFlow)
        ORDER BY tenant_id, flow_id LIMIT 1
        """;

    private const string NextTenant = "SELECT tenant_id FROM queue WHERE lane = $lane AND tenant_id > $after ORDER BY tenant_id LIMIT 1";

    private const string HasDue = "SELECT 1 FROM queue WHERE lane = $lane AND tenant_id = $tenant AND flow_id = $flow AND due_at <= $now LIMIT 1";

    private static readonly string TenantWeight = $"SELECT coalesce((SELECT weight FROM tenants WHERE id = $tenant), {TenantLimits.DefaultWeight})";

    private const string SelectDue = """
        SELECT notification_id, due_at FROM queue WHERE lane = $lane AND tenant_id = $tenant AND flow_id = $flow AND due_at <= $now
        ORDER BY due_at, notification_id LIMIT $max
        """;

    /// <summary>Claim rounds at most per call, as in the PostgreSQL store.</summary>
    private const int MaxClaimRounds = 3;

    private const string Lease = "UPDATE queue SET due_at = $until WHERE notification_id = $id";

    private const string SelectNotification = $"SELECT {SqliteValues.NotificationColumns} FROM notifications n WHERE n.id = $id";

    private static readonly string SelectInFlight = $"""
        SELECT {SqliteValues.AttemptColumns} FROM attempts a WHERE a.notification_id = $id AND a.state = {StateSql.AttemptSending} ORDER BY a.created_at, a.id
        """;

    private static readonly string UpdateNotification = $"""
        UPDATE notifications
        SET status = $status, channel = $channel, step = $step, retries = $retries, awaited_attempt_id = $awaited,
            version = version + 1, updated_at = $now,
            -- The overview's accept→delivered: the moment it became delivered, never moved by a later receipt.
            delivered_at = CASE WHEN delivered_at IS NULL AND $status = {StateSql.Delivered} THEN $now ELSE delivered_at END
        WHERE id = $id AND version = $expected
        """;

    private const string InsertAttempt = """
        INSERT INTO attempts (id, notification_id, tenant_id, step, channel, provider_id, provider_name, provider_message_id, state,
                              failure_kind, error_code, error, cost, created_at, sent_at, delivered_at, updated_at)
        SELECT $id, n.id, n.tenant_id, $step, $channel, $provider, $providerName, $messageId, $state,
               $failureKind, $errorCode, $error, $cost, $created, $sent, $delivered, $updated
        FROM notifications n WHERE n.id = $notification
        """;

    // A delivered or read attempt never goes back to an earlier state (late or reordered callbacks); read beats
    // delivered. When the incoming state is refused, the stored outcome fields are kept with it. The first non-null
    // provider fields, cost, sent and delivered times stay; updated_at only moves forward.
    private static readonly string UpsertAttempt = InsertAttempt + $"""

        ON CONFLICT (id) DO UPDATE SET
            provider_id = coalesce(attempts.provider_id, excluded.provider_id),
            provider_name = coalesce(attempts.provider_name, excluded.provider_name),
            provider_message_id = coalesce(attempts.provider_message_id, excluded.provider_message_id),
            cost = coalesce(attempts.cost, excluded.cost),
            sent_at = coalesce(attempts.sent_at, excluded.sent_at),
            state = CASE WHEN {Keep} THEN attempts.state ELSE excluded.state END,
            failure_kind = CASE WHEN {Keep} THEN attempts.failure_kind ELSE excluded.failure_kind END,
            error_code = CASE WHEN {Keep} THEN attempts.error_code ELSE excluded.error_code END,
            error = CASE WHEN {Keep} THEN attempts.error ELSE excluded.error END,
            delivered_at = coalesce(attempts.delivered_at, excluded.delivered_at),
            updated_at = max(attempts.updated_at, excluded.updated_at)
        """;

    private const string DeleteQueue = "DELETE FROM queue WHERE notification_id = $id";

    // A rescheduled entry keeps its lane (it may have been promoted by aging) and its enqueue time.
    private const string UpsertQueue = """
        INSERT INTO queue (notification_id, tenant_id, flow_id, lane, due_at, enqueued_at)
        SELECT n.id, n.tenant_id, coalesce(n.source_id, n.tenant_id), n.priority, $due, $now FROM notifications n WHERE n.id = $id
        ON CONFLICT (notification_id) DO UPDATE SET due_at = excluded.due_at
        """;

    // Keyed by (account, message id) as the attempt stored them: a receipt parked by one account never lands on
    // another's attempt.
    private const string TakeReceipt = """
        DELETE FROM pending_receipts WHERE (provider_id, provider_message_id) IN (
            SELECT provider_id, provider_message_id FROM attempts WHERE id = $attempt)
        RETURNING provider_id, provider_message_id, state, error_code, error, received_at
        """;

    public async Task<IReadOnlyList<ClaimedNotification>> ClaimAsync(int max, TimeSpan lease, DateTimeOffset now, Priority lowestLane, CancellationToken ct)
    {
        if (max <= 0)
        {
            return [];
        }

        return await db.WriteAsync<IReadOnlyList<ClaimedNotification>>(
            scope =>
            {
                var ids = new List<string>(Math.Min(max, 1024));
                var leaseCommand = scope.Command(Lease).Set("$until", SqliteValues.Ms(now + lease));
                for (var round = 0; round < MaxClaimRounds && ids.Count < max; round++)
                {
                    var (picked, more) = ClaimRound(scope, max - ids.Count, now, lowestLane);
                    foreach (var id in picked)
                    {
                        // Leased entries are no longer due, so the next round looks past them.
                        leaseCommand.Set("$id", id).ExecuteNonQuery();
                        ids.Add(id);
                    }

                    if (!more)
                    {
                        break;
                    }
                }

                var claimed = new List<ClaimedNotification>(ids.Count);
                var loadNotification = scope.Command(SelectNotification);
                var loadInFlight = scope.Command(SelectInFlight);
                foreach (var id in ids)
                {
                    var notification = loadNotification.Set("$id", id).ReadFirst(r => SqliteValues.ReadNotification(r, keys))
                        ?? throw new InvalidOperationException($"Queue entry {id} has no notification.");
                    var inFlight = loadInFlight.Set("$id", id).ReadAll(SqliteValues.ReadAttempt);
                    claimed.Add(new ClaimedNotification(notification, inFlight));
                }

                return claimed;
            },
            ct,
            durable: false).ConfigureAwait(false);
    }

    /// <summary>One fair round: up to <paramref name="max"/> due entry ids, and whether a tenant filled its share
    /// below <paramref name="max"/> (so another round may find more for the batch).</summary>
    private static (List<string> Picked, bool More) ClaimRound(WriteScope scope, int max, DateTimeOffset now, Priority lowestLane)
    {
        var nowMs = SqliteValues.Ms(now);
        var candidates = new List<(int Lane, double Rank, long DueAt, string Id)>();
        var more = false;
        var nextFlow = scope.Command(NextFlow);
        var hasDue = scope.Command(HasDue).Set("$now", nowMs);
        var weightOf = scope.Command(TenantWeight);
        var selectDue = scope.Command(SelectDue).Set("$now", nowMs);
        for (var lane = 0; lane <= (int)lowestLane && lane < Lanes && candidates.Count < max; lane++)
        {
            nextFlow.Set("$lane", lane);
            hasDue.Set("$lane", lane);
            selectDue.Set("$lane", lane);
            var due = new List<(string Tenant, string Flow)>();
            var (afterTenant, afterFlow) = ("", "");
            while (nextFlow.Set("$afterTenant", afterTenant).Set("$afterFlow", afterFlow)
                .ReadFirst(r => new[] { r.GetString(0), r.GetString(1) }) is [var tenant, var flow])
            {
                (afterTenant, afterFlow) = (tenant, flow);
                if (hasDue.Set("$tenant", tenant).Set("$flow", flow).ExecuteScalar() is not null)
                {
                    due.Add((tenant, flow));
                }
            }

            // A tenant's weight, split evenly among its flows with due entries.
            var weights = due.GroupBy(f => f.Tenant).ToDictionary(
                g => g.Key,
                g => Convert.ToInt64(weightOf.Set("$tenant", g.Key).ExecuteScalar(), CultureInfo.InvariantCulture) / (double)g.Count(),
                StringComparer.Ordinal);
            var total = weights.Sum(w => w.Value * due.Count(f => f.Tenant == w.Key));
            foreach (var (tenant, flow) in due)
            {
                var weight = weights[tenant];
                var share = (int)Math.Ceiling(max * weight / total);
                var rows = selectDue.Set("$tenant", tenant).Set("$flow", flow).Set("$max", share)
                    .ReadAll(r => (Id: r.GetString(0), DueAt: r.GetInt64(1)));
                for (var k = 0; k < rows.Count; k++)
                {
                    candidates.Add((lane, (k + 1) / weight, rows[k].DueAt, rows[k].Id));
                }

                more |= share < max && rows.Count >= share;
            }
        }

        var picked = candidates
            .OrderBy(c => c.Lane).ThenBy(c => c.Rank).ThenBy(c => c.DueAt).ThenBy(c => c.Id, StringComparer.Ordinal)
            .Take(max).Select(c => c.Id).ToList();
        return (picked, more);
    }

    public Task WaitForWorkAsync(TimeSpan maxWait, CancellationToken ct) => db.Signal.WaitAsync(maxWait, ct);

    public Task<DateTimeOffset?> NextDueAsync(CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                // A loose scan of ix_queue_fair: per (lane, tenant, flow) present, one seek for its earliest entry.
                command.CommandText = """
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
                    )
                    SELECT min((SELECT min(q.due_at) FROM queue q WHERE q.lane = p.lane AND q.tenant_id = p.tenant_id AND q.flow_id = p.flow_id))
                    FROM present p WHERE p.lane IS NOT NULL
                    """;
                return command.ExecuteScalar() is long ms ? SqliteValues.Time(ms) : (DateTimeOffset?)null;
            },
            ct);

    public async Task BeginAttemptsAsync(IReadOnlyList<Attempt> attempts, CancellationToken ct)
    {
        if (attempts.Count == 0)
        {
            return;
        }

        await db.WriteAsync(
            scope =>
            {
                var insert = scope.Command(InsertAttempt + " ON CONFLICT (id) DO NOTHING");
                foreach (var attempt in attempts)
                {
                    if (BindAttempt(insert, attempt).ExecuteNonQuery() == 0 && !AttemptExists(scope, attempt.Id))
                    {
                        throw new InvalidOperationException($"Attempt {attempt.Id} names notification {attempt.NotificationId}, which does not exist.");
                    }
                }

                return 0;
            },
            ct).ConfigureAwait(false);
    }

    public async Task<ApplyResult> ApplyAsync(IReadOnlyList<DeliveryUpdate> updates, DateTimeOffset now, CancellationToken ct)
    {
        if (updates.Count == 0)
        {
            return new ApplyResult([], []);
        }

        var wake = false;
        var result = await db.WriteAsync(
            scope =>
            {
                var nowMs = SqliteValues.Ms(now);
                var update = scope.Command(UpdateNotification);
                var upsertAttempt = scope.Command(UpsertAttempt);
                var deleteQueue = scope.Command(DeleteQueue);
                var upsertQueue = scope.Command(UpsertQueue);
                var applied = new bool[updates.Count];
                var attemptIds = new List<Guid>();
                for (var i = 0; i < updates.Count; i++)
                {
                    scope.CancellationToken.ThrowIfCancellationRequested();
                    var (notificationId, expectedVersion, transition, attempts) = updates[i];
                    var id = SqliteValues.Id(notificationId);
                    var changed = update
                        .Set("$id", id)
                        .Set("$expected", expectedVersion)
                        .Set("$status", (int)transition.Status)
                        .Set("$channel", transition.DeliveredChannel is { } channel ? (int)channel : DBNull.Value)
                        .Set("$step", transition.Progress.Step)
                        .Set("$retries", transition.Progress.Retries)
                        .Set("$awaited", SqliteValues.Id(transition.Progress.AwaitedAttemptId))
                        .Set("$now", nowMs)
                        .ExecuteNonQuery();
                    if (changed == 0)
                    {
                        continue;
                    }

                    applied[i] = true;
                    foreach (var attempt in attempts)
                    {
                        BindAttempt(upsertAttempt, attempt).ExecuteNonQuery();
                        if (attempt.ProviderMessageId is not null)
                        {
                            attemptIds.Add(attempt.Id);
                        }
                    }

                    if (transition.Queue.DueAt is { } due)
                    {
                        upsertQueue.Set("$id", id).Set("$due", SqliteValues.Ms(due)).Set("$now", nowMs).ExecuteNonQuery();
                        wake |= due <= now;
                    }
                    else
                    {
                        deleteQueue.Set("$id", id).ExecuteNonQuery();
                    }
                }

                var receipts = new List<PendingReceipt>();
                var take = scope.Command(TakeReceipt);
                foreach (var attemptId in attemptIds.Distinct())
                {
                    receipts.AddRange(take.Set("$attempt", SqliteValues.Id(attemptId)).ReadAll(ReadReceipt));
                }

                return new ApplyResult(applied, receipts);
            },
            ct).ConfigureAwait(false);

        if (wake)
        {
            db.Signal.Raise();
        }

        return result;
    }

    public Task<(Notification Notification, Attempt Attempt)?> FindByProviderMessageIdAsync(Guid providerId, string providerMessageId, CancellationToken ct) =>
        db.ReadAsync<(Notification Notification, Attempt Attempt)?>(
            connection =>
            {
                using var command = connection.CreateCommand();
                return FindByProviderMessageId(command, providerId, providerMessageId);
            },
            ct);

    private (Notification Notification, Attempt Attempt)? FindByProviderMessageId(SqliteCommand command, Guid providerId, string providerMessageId)
    {
        command.Parameters.Clear();
        // Only the vouching account's attempts: another account's message with the same id is not this receipt's.
        // An account could reuse one message id; the newest attempt is the one a receipt most likely means.
        command.CommandText = $"""
            SELECT {SqliteValues.AttemptColumns} FROM attempts a
            WHERE a.provider_message_id = $messageId AND a.provider_id = $provider ORDER BY a.created_at DESC, a.id DESC LIMIT 1
            """;
        command.Set("$messageId", providerMessageId).Set("$provider", SqliteValues.Id(providerId));
        var attempt = command.ReadFirst(SqliteValues.ReadAttempt);
        if (attempt is null)
        {
            return null;
        }

        command.Parameters.Clear();
        command.CommandText = SelectNotification;
        command.Set("$id", SqliteValues.Id(attempt.NotificationId));
        var notification = command.ReadFirst(r => SqliteValues.ReadNotification(r, keys));
        return notification is null ? null : (notification, attempt);
    }

    public Task<IReadOnlyDictionary<string, (Notification Notification, Attempt Attempt)>> FindByProviderMessageIdsAsync(
        Guid providerId, IReadOnlyCollection<string> providerMessageIds, CancellationToken ct) =>
        // In process a lookup is no round trip: the single lookups on one connection are the batch.
        db.ReadAsync<IReadOnlyDictionary<string, (Notification Notification, Attempt Attempt)>>(
            connection =>
            {
                var found = new Dictionary<string, (Notification, Attempt)>(StringComparer.Ordinal);
                using var command = connection.CreateCommand();
                foreach (var providerMessageId in providerMessageIds.Distinct(StringComparer.Ordinal))
                {
                    if (FindByProviderMessageId(command, providerId, providerMessageId) is { } hit)
                    {
                        found[providerMessageId] = hit;
                    }
                }

                return found;
            },
            ct);

    public async Task SavePendingReceiptAsync(PendingReceipt receipt, CancellationToken ct)
    {
        await db.WriteAsync(
            scope => scope.Command($"""
                    INSERT INTO pending_receipts (provider_id, provider_message_id, state, error_code, error, received_at)
                    VALUES ($provider, $id, $state, $errorCode, $error, $at)
                    ON CONFLICT (provider_id, provider_message_id) DO UPDATE SET
                        state = excluded.state, error_code = excluded.error_code, error = excluded.error, received_at = excluded.received_at
                    WHERE {StateSql.ReceiptRank("excluded.state")} >= {StateSql.ReceiptRank("pending_receipts.state")}
                    """)
                .Set("$provider", SqliteValues.Id(receipt.ProviderId))
                .Set("$id", receipt.ProviderMessageId)
                .Set("$state", (int)receipt.State)
                .Set("$errorCode", SqliteValues.Text(receipt.ErrorCode))
                .Set("$error", SqliteValues.Text(receipt.Error))
                .Set("$at", SqliteValues.Ms(receipt.ReceivedAt))
                .ExecuteNonQuery(),
            ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<PendingReceipt>> TakePendingReceiptsAsync(DateTimeOffset olderThan, int max, CancellationToken ct)
    {
        if (max <= 0)
        {
            return [];
        }

        var taken = await db.WriteAsync(
            scope => scope.Command("""
                    DELETE FROM pending_receipts WHERE (provider_id, provider_message_id) IN (
                        SELECT provider_id, provider_message_id FROM pending_receipts WHERE received_at < $before
                        ORDER BY received_at, provider_message_id LIMIT $max)
                    RETURNING provider_id, provider_message_id, state, error_code, error, received_at
                    """)
                .Set("$before", SqliteValues.Ms(olderThan))
                .Set("$max", max)
                .ReadAll(ReadReceipt),
            ct).ConfigureAwait(false);
        // RETURNING gives no order guarantee.
        return taken.OrderBy(r => r.ReceivedAt).ThenBy(r => r.ProviderMessageId, StringComparer.Ordinal).ToList();
    }

    public async Task<int> PromoteAgedAsync(TimeSpan age, int max, int perTenant, DateTimeOffset now, CancellationToken ct)
    {
        if (max <= 0)
        {
            return 0;
        }

        return await db.WriteAsync(
            scope =>
            {
                // Per tenant present in the lane (a seek each on ix_queue_aging: lane, tenant_id, enqueued_at), its
                // oldest aged entries up to its room in the lane above, as in the PostgreSQL store.
                var nextTenant = scope.Command(NextTenant);
                var above = scope.Command("SELECT count(*) FROM (SELECT 1 FROM queue WHERE lane = $lane AND tenant_id = $tenant LIMIT $room)")
                    .Set("$room", perTenant);
                var promote = scope.Command("""
                    UPDATE queue SET lane = lane - 1, enqueued_at = $now
                    WHERE notification_id IN (
                        SELECT notification_id FROM queue WHERE lane = $lane AND tenant_id = $tenant AND enqueued_at < $cutoff
                        ORDER BY enqueued_at LIMIT $max)
                    """)
                    .Set("$now", SqliteValues.Ms(now))
                    .Set("$cutoff", SqliteValues.Ms(now - age));
                var moved = 0;
                // Normal first: a low entry promoted into normal gets a fresh enqueue time, so it cannot move twice here.
                foreach (var lane in (ReadOnlySpan<Priority>)[Priority.Normal, Priority.Low])
                {
                    var tenants = new List<string>();
                    var after = "";
                    while (nextTenant.Set("$lane", (int)lane).Set("$after", after).ExecuteScalar() is string tenant)
                    {
                        tenants.Add(tenant);
                        after = tenant;
                    }

                    foreach (var tenant in tenants)
                    {
                        if (moved >= max)
                        {
                            return moved;
                        }

                        var room = perTenant - Convert.ToInt32(above.Set("$lane", (int)lane - 1).Set("$tenant", tenant).ExecuteScalar(), CultureInfo.InvariantCulture);
                        if (room > 0)
                        {
                            moved += promote.Set("$lane", (int)lane).Set("$tenant", tenant).Set("$max", Math.Min(room, max - moved)).ExecuteNonQuery();
                        }
                    }
                }

                return moved;
            },
            ct,
            durable: false).ConfigureAwait(false);
    }

    public Task<long[]> QueueDepthAsync(CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT lane, count(*) FROM queue GROUP BY lane";
                var depth = new long[Lanes];
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    var lane = reader.GetInt32(0);
                    if (lane is >= 0 and < Lanes)
                    {
                        depth[lane] = reader.GetInt64(1);
                    }
                }

                return depth;
            },
            ct);

    public Task<long> CountQueuedAsync(Guid tenantId, long atMost, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                // Bounded: a count stops at atMost, whatever the backlog.
                command.CommandText = $"SELECT count(*) FROM (SELECT 1 FROM queue WHERE lane IN ({StateSql.Lanes}) AND tenant_id = $tenant LIMIT $cap)";
                command.Set("$tenant", SqliteValues.Id(tenantId)).Set("$cap", Math.Max(0, atMost));
                return (long)command.ExecuteScalar()!;
            },
            ct);

    private static SqliteCommand BindAttempt(SqliteCommand command, Attempt a) => command
        .Set("$id", SqliteValues.Id(a.Id))
        .Set("$notification", SqliteValues.Id(a.NotificationId))
        .Set("$step", a.Step)
        .Set("$channel", (int)a.Channel)
        .Set("$provider", SqliteValues.Id(a.ProviderId))
        .Set("$providerName", SqliteValues.Text(a.ProviderName))
        .Set("$messageId", SqliteValues.Text(a.ProviderMessageId))
        .Set("$state", (int)a.State)
        .Set("$failureKind", SqliteValues.Text(a.FailureKind))
        .Set("$errorCode", SqliteValues.Text(a.ErrorCode))
        .Set("$error", SqliteValues.Text(a.Error))
        .Set("$cost", SqliteValues.Money(a.Cost))
        .Set("$created", SqliteValues.Ms(a.CreatedAt))
        .Set("$sent", SqliteValues.Ms(a.SentAt))
        .Set("$delivered", SqliteValues.Ms(a.DeliveredAt))
        // An attempt built without UpdatedAt counts as updated when created.
        .Set("$updated", SqliteValues.Ms(a.UpdatedAt == default ? a.CreatedAt : a.UpdatedAt));

    // A later receipt replaces an earlier one unless it would step back (read > delivered > failed > sent),
    // since providers do not promise to report in order.

    private static bool AttemptExists(WriteScope scope, Guid id) =>
        scope.Command("SELECT count(*) FROM attempts WHERE id = $id").Set("$id", SqliteValues.Id(id)).ExecuteScalar() is long n && n > 0;

    /// <summary>Reads <c>provider_id, provider_message_id, state, error_code, error, received_at</c>.</summary>
    internal static PendingReceipt ReadReceipt(SqliteDataReader r) => new(
        r.GetId(0),
        r.GetString(1),
        (ReceiptState)r.GetInt32(2),
        r.GetStringOrNull(3),
        r.GetStringOrNull(4),
        r.GetTime(5));
}
