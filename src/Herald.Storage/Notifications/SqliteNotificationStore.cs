using System.Text;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Storage.Secrets;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteNotificationStore(SqliteDatabase db, TenantKeys keys) : INotificationStore
{
    private const int MaxSearchLimit = 500;

    // The conflict target names the partial dedupe index, so a clash on the primary key still fails loudly.
    private const string InsertNotification = """
        INSERT INTO notifications (id, tenant_id, source_id, type, customer_id, contacts, data, priority, expires_at, external_id,
                                   dedupe_key, route, status, channel, step, retries, awaited_attempt_id, version, created_at, updated_at, request_hash, actions, reply_until, trace_parent,
                                   sealed, phone_hash, email_hash)
        VALUES ($id, $tenant, $source, $type, $customer, '{}', '{}', $priority, $expires, $external,
                $dedupe, $route, $status, NULL, 0, 0, NULL, 0, $now, $now, $hash, $actions, $reply_until, $trace,
                $sealed, $phone_hash, $email_hash)
        ON CONFLICT (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
        """;

    private const string InsertQueue = """
        INSERT INTO queue (notification_id, tenant_id, flow_id, lane, due_at, enqueued_at) VALUES ($id, $tenant, $flow, $lane, $due, $now)
        """;

    private const string FindByDedupe = "SELECT id, status, request_hash FROM notifications WHERE tenant_id = $tenant AND dedupe_key = $dedupe";

    public async Task<IReadOnlyList<AcceptResult>> AcceptAsync(IReadOnlyList<PreparedNotification> items, DateTimeOffset now, CancellationToken ct)
    {
        if (items.Count == 0)
        {
            return [];
        }

        // Keys first: creating a tenant's keys is a write of its own, which cannot run inside this one.
        var tenantKeys = new Dictionary<Guid, TenantKeySet>();
        foreach (var item in items)
        {
            if (!tenantKeys.ContainsKey(item.Request.TenantId))
            {
                tenantKeys[item.Request.TenantId] = await keys.ForWriteAsync(item.Request.TenantId, ct).ConfigureAwait(false);
            }
        }

        var results = await db.WriteAsync(
            scope =>
            {
                var insert = scope.Command(InsertNotification);
                var enqueue = scope.Command(InsertQueue);
                var nowMs = SqliteValues.Ms(now);
                var results = new AcceptResult[items.Count];
                // Many items of a batch share one route instance; serialise it once.
                Route? lastRoute = null;
                string? lastRouteJson = null;
                for (var i = 0; i < items.Count; i++)
                {
                    scope.CancellationToken.ThrowIfCancellationRequested();
                    var (id, request, route) = items[i];
                    var status = items[i].Suppressed ? NotificationStatus.Suppressed : NotificationStatus.Accepted;
                    if (!ReferenceEquals(route, lastRoute))
                    {
                        lastRoute = route;
                        lastRouteJson = SqliteJson.Route(route);
                    }

                    var tenant = SqliteValues.Id(request.TenantId);
                    var k = tenantKeys[request.TenantId];
                    var inserted = insert
                        .Set("$id", SqliteValues.Id(id))
                        .Set("$tenant", tenant)
                        .Set("$source", SqliteValues.Id(request.SourceId))
                        .Set("$type", request.Type)
                        .Set("$customer", SqliteValues.Text(request.CustomerId))
                        .Set("$sealed", NotificationSeal.Seal(k, id, SqliteJson.Contacts(request.Contacts), string.IsNullOrEmpty(request.DataJson) ? "{}" : request.DataJson))
                        .Set("$phone_hash", NotificationSeal.PhoneHash(k, request.Contacts))
                        .Set("$email_hash", NotificationSeal.EmailHash(k, request.Contacts))
                        .Set("$priority", (int)route.Priority)
                        .Set("$expires", SqliteValues.Ms(request.ExpiresAt))
                        .Set("$external", SqliteValues.Text(request.ExternalId))
                        .Set("$dedupe", SqliteValues.Text(request.DedupeKey))
                        .Set("$route", lastRouteJson)
                        .Set("$status", (int)status)
                        .Set("$now", nowMs)
                        .Set("$hash", items[i].RequestHash)
                        .Set("$actions", StorageJson.SerializeActions(request.Actions))
                        .Set("$reply_until", SqliteValues.Ms(request.ReplyUntil(now)))
                        .Set("$trace", SqliteValues.Text(items[i].TraceParent))
                        .ExecuteNonQuery();
                    if (inserted == 1)
                    {
                        if (status == NotificationStatus.Accepted)
                        {
                            var due = items[i].NotBefore is { } notBefore && notBefore > now ? SqliteValues.Ms(notBefore) : nowMs;
                            enqueue.Set("$id", SqliteValues.Id(id)).Set("$tenant", tenant)
                                .Set("$flow", request.SourceId is { } source ? SqliteValues.Id(source) : tenant).Set("$lane", (int)route.Priority)
                                .Set("$due", due).Set("$now", nowMs)
                                .ExecuteNonQuery();
                        }

                        results[i] = new AcceptResult(id, true, status);
                        continue;
                    }

                    // The dedupe key exists, from an earlier call or an earlier item of this one.
                    using var reader = scope.Command(FindByDedupe).Set("$tenant", tenant).Set("$dedupe", request.DedupeKey).ExecuteReader();
                    if (!reader.Read())
                    {
                        throw new InvalidOperationException("A dedupe conflict was reported but no notification holds the key.");
                    }

                    var holder = reader.IsDBNull(2) ? null : (byte[])reader.GetValue(2);
                    results[i] = new AcceptResult(reader.GetId(0), false, (NotificationStatus)reader.GetInt16(1))
                    {
                        Mismatch = AcceptResult.Differs(holder, items[i].RequestHash),
                    };
                }

                return results;
            },
            ct).ConfigureAwait(false);

        if (Array.Exists(results, r => r.Created))
        {
            db.Signal.Raise();
        }

        return results;
    }

    public Task<int> ReleaseDedupeKeysAsync(DateTimeOffset createdBefore, int max, CancellationToken ct) =>
        db.WriteAsync(
            scope => scope.Command(
                    "UPDATE notifications SET dedupe_key = NULL WHERE id IN (SELECT id FROM notifications " +
                    "WHERE dedupe_key IS NOT NULL AND created_at < $before ORDER BY created_at LIMIT $max)")
                .Set("$before", SqliteValues.Ms(createdBefore))
                .Set("$max", Math.Max(0, max))
                .ExecuteNonQuery(),
            ct);

    public Task<Notification?> GetAsync(Guid tenantId, Guid id, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {SqliteValues.NotificationColumns} FROM notifications n WHERE n.id = $id AND n.tenant_id = $tenant";
                command.Set("$id", SqliteValues.Id(id)).Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadFirst(r => SqliteValues.ReadNotification(r, keys));
            },
            ct);

    public Task<IReadOnlyList<Attempt>> GetAttemptsAsync(Guid tenantId, Guid notificationId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<Attempt>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"""
                    SELECT {SqliteValues.AttemptColumns} FROM attempts a
                    WHERE a.notification_id = $id AND a.tenant_id = $tenant
                    ORDER BY a.created_at, a.id
                    """;
                command.Set("$id", SqliteValues.Id(notificationId)).Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadAll(SqliteValues.ReadAttempt);
            },
            ct);

    /// <remarks><see cref="NotificationQuery.CreatedFrom"/> is inclusive, <see cref="NotificationQuery.CreatedTo"/> exclusive.</remarks>
    public Task<IReadOnlyList<Notification>> SearchAsync(Guid tenantId, NotificationQuery query, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<Notification>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                var sql = new StringBuilder($"SELECT {SqliteValues.NotificationColumns} FROM notifications n WHERE n.tenant_id = $tenant");
                command.Set("$tenant", SqliteValues.Id(tenantId));
                if (query.Status is { } status)
                {
                    sql.Append(" AND n.status = $status");
                    command.Set("$status", (int)status);
                }

                if (query.Type is { } type)
                {
                    sql.Append(" AND n.type = $type");
                    command.Set("$type", type);
                }

                if (query.ExternalId is { } externalId)
                {
                    sql.Append(" AND n.external_id = $external");
                    command.Set("$external", externalId);
                }

                if (query.CustomerId is { } customerId)
                {
                    sql.Append(" AND n.customer_id = $customer");
                    command.Set("$customer", customerId);
                }

                if (query.CreatedFrom is { } from)
                {
                    sql.Append(" AND n.created_at >= $from");
                    command.Set("$from", SqliteValues.Ms(from));
                }

                if (query.CreatedTo is { } to)
                {
                    sql.Append(" AND n.created_at < $to");
                    command.Set("$to", SqliteValues.Ms(to));
                }

                if (query.Channel is { } channel)
                {
                    sql.Append(" AND n.channel = $channel");
                    command.Set("$channel", (int)channel);
                }

                if (query.Priority is { } priority)
                {
                    sql.Append(" AND n.priority = $priority");
                    command.Set("$priority", (int)priority);
                }

                if (query.SourceId is { } source)
                {
                    sql.Append(" AND n.source_id = $source");
                    command.Set("$source", SqliteValues.Id(source));
                }

                if (query.Before is { } before)
                {
                    sql.Append(" AND n.id < $before");
                    command.Set("$before", SqliteValues.Id(before));
                }

                sql.Append(" ORDER BY n.id DESC LIMIT $limit");
                command.Set("$limit", Math.Clamp(query.Limit, 1, MaxSearchLimit));
                command.CommandText = sql.ToString();
                return command.ReadAll(r => SqliteValues.ReadNotification(r, keys));
            },
            ct);

    public Task<IReadOnlyList<NotificationCount>> CountAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct)
    {
        var width = (long)bucket.TotalMilliseconds;
        return db.ReadAsync<IReadOnlyList<NotificationCount>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = """
                    SELECT n.created_at / $bucket, n.channel, n.status, n.priority, count(*), sum(n.step > 0)
                    FROM notifications n
                    WHERE n.tenant_id = $tenant AND n.id >= $first AND n.id < $last
                    GROUP BY 1, 2, 3, 4
                    ORDER BY 1, 2, 3, 4
                    """;
                command.Set("$bucket", width);
                command.Set("$tenant", SqliteValues.Id(tenantId));
                command.Set("$first", SqliteValues.Id(TimeOrderedIds.Floor(from)));
                command.Set("$last", SqliteValues.Id(TimeOrderedIds.Floor(to)));
                return command.ReadAll(r => new NotificationCount(
                    DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0) * width),
                    r.IsDBNull(1) ? null : (Channel)r.GetInt32(1),
                    (NotificationStatus)r.GetInt32(2),
                    (Priority)r.GetInt32(3),
                    r.GetInt64(4)) { Fallbacks = r.GetInt64(5) });
            },
            ct);
    }
}
