using System.Text;
using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresNotificationStore(NpgsqlDataSource dataSource, TenantKeys keys) : INotificationStore
{
    // One statement stores every new notification and its queue entry; rows whose dedupe key exists are skipped.
    // Without any dedupe key in the call, the same statement without ON CONFLICT: PostgreSQL inserts every row of an
    // ON CONFLICT insert speculatively (a speculative lock and one more WAL record per row), and a row without a key
    // cannot conflict.
    private static readonly string InsertKeyedSql = Insert(onConflict: "ON CONFLICT (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING");
    private static readonly string InsertSql = Insert(onConflict: "");

    private static string Insert(string onConflict) =>
        $"""
        WITH ins AS (
            INSERT INTO notifications (id, tenant_id, source_id, type, customer_id, contacts, data, priority, expires_at,
                external_id, dedupe_key, route, status, channel, step, retries, awaited_attempt_id, version, created_at, updated_at, request_hash, actions, reply_until, trace_parent,
                sealed, phone_hash, email_hash)
            SELECT t.id, t.tenant_id, t.source_id, t.type, t.customer_id, jsonb_build_object(), jsonb_build_object(), t.priority, t.expires_at,
                t.external_id, t.dedupe_key, t.route, t.status, NULL, 0, 0, NULL, 0, @now, @now, t.request_hash, t.actions, t.reply_until, t.trace_parent,
                t.sealed, t.phone_hash, t.email_hash
            FROM unnest(@id, @tenant, @source, @type, @customer, @priority, @expires, @external, @dedupe, @route, @status, @hash, @actions, @reply_until, @trace,
                    @sealed, @phone_hash, @email_hash)
                AS t(id, tenant_id, source_id, type, customer_id, priority, expires_at, external_id, dedupe_key, route, status, request_hash, actions, reply_until, trace_parent,
                    sealed, phone_hash, email_hash)
            {onConflict}
            RETURNING id, tenant_id, source_id, priority, status
        ), q AS (
            -- Suppressed notifications are final at once and never queued; a rule's delay sets the first due time.
            INSERT INTO queue (notification_id, tenant_id, flow_id, lane, due_at, enqueued_at)
            SELECT ins.id, ins.tenant_id, coalesce(ins.source_id, ins.tenant_id), ins.priority, greatest(coalesce(d.due, @now), @now), @now
            FROM ins JOIN unnest(@id, @due) AS d(id, due) ON d.id = ins.id
            WHERE ins.status = {StateSql.Accepted}
        )
        SELECT id, status FROM ins
        """;

    // Runs after InsertSql in the same implicit transaction, so it sees both the new rows and, once a concurrent
    // insert of the same key has committed, that one.
    private const string DedupeLookupSql =
        """
        SELECT k.ord, n.id, n.status, n.request_hash
        FROM unnest(@k_tenant, @k_key) WITH ORDINALITY AS k(tenant_id, dedupe_key, ord)
        JOIN notifications n ON n.tenant_id = k.tenant_id AND n.dedupe_key = k.dedupe_key
        """;

    public async Task<IReadOnlyList<AcceptResult>> AcceptAsync(IReadOnlyList<PreparedNotification> items, DateTimeOffset now, CancellationToken ct)
    {
        if (items.Count == 0)
        {
            return [];
        }

        // Dedupe keys repeated within the call resolve to their first item, which alone is sent to the database.
        var firstByKey = new Dictionary<(Guid, string), int>();
        var firstOf = new int[items.Count];
        var unique = new List<int>(items.Count);
        var keyed = new List<int>();
        for (var i = 0; i < items.Count; i++)
        {
            var request = items[i].Request;
            firstOf[i] = i;
            if (request.DedupeKey is { } key)
            {
                if (firstByKey.TryGetValue((request.TenantId, key), out var first))
                {
                    firstOf[i] = first;
                    continue;
                }

                firstByKey.Add((request.TenantId, key), i);
                keyed.Add(i);
            }

            unique.Add(i);
        }

        var n = unique.Count;
        var id = new Guid[n];
        var tenant = new Guid[n];
        var source = new Guid?[n];
        var type = new string[n];
        var customer = new string?[n];
        // Contacts and data are stored sealed (issue #17): one envelope per notification, plus the look-up hashes.
        var sealedValues = new byte[]?[n];
        var phoneHash = new byte[]?[n];
        var emailHash = new byte[]?[n];
        var priority = new short[n];
        var expires = new DateTimeOffset?[n];
        var external = new string?[n];
        var dedupe = new string?[n];
        var route = new string[n];
        var status = new short[n];
        var due = new DateTimeOffset?[n];
        var hash = new byte[]?[n];
        var actions = new string?[n];
        var replyUntil = new DateTimeOffset?[n];
        var trace = new string?[n];
        for (var j = 0; j < n; j++)
        {
            var item = items[unique[j]];
            var r = item.Request;
            id[j] = item.Id;
            tenant[j] = r.TenantId;
            source[j] = r.SourceId;
            type[j] = r.Type;
            customer[j] = r.CustomerId;
            var tenantKeys = await keys.ForWriteAsync(r.TenantId, ct);
            sealedValues[j] = NotificationSeal.Seal(tenantKeys, item.Id, StorageJson.SerializeContacts(r.Contacts), string.IsNullOrWhiteSpace(r.DataJson) ? "{}" : r.DataJson);
            phoneHash[j] = NotificationSeal.PhoneHash(tenantKeys, r.Contacts);
            emailHash[j] = NotificationSeal.EmailHash(tenantKeys, r.Contacts);
            priority[j] = (short)item.Route.Priority;
            expires[j] = Utc(r.ExpiresAt);
            external[j] = r.ExternalId;
            dedupe[j] = r.DedupeKey;
            route[j] = StorageJson.SerializeRoute(item.Route);
            status[j] = (short)(item.Suppressed ? NotificationStatus.Suppressed : NotificationStatus.Accepted);
            due[j] = Utc(item.NotBefore);
            hash[j] = item.RequestHash;
            actions[j] = StorageJson.SerializeActions(r.Actions);
            replyUntil[j] = Utc(r.ReplyUntil(now));
            trace[j] = item.TraceParent;
        }

        var utcNow = Utc(now);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(conn);
        var insert = new NpgsqlBatchCommand(keyed.Count > 0 ? InsertKeyedSql : InsertSql);
        insert.Parameters.Add(Param("now", utcNow));
        insert.Parameters.Add(Array("id", NpgsqlDbType.Uuid, id));
        insert.Parameters.Add(Array("tenant", NpgsqlDbType.Uuid, tenant));
        insert.Parameters.Add(Array("source", NpgsqlDbType.Uuid, source));
        insert.Parameters.Add(Array("type", NpgsqlDbType.Text, type));
        insert.Parameters.Add(Array("customer", NpgsqlDbType.Text, customer));
        insert.Parameters.Add(Array("priority", NpgsqlDbType.Smallint, priority));
        insert.Parameters.Add(Array("expires", NpgsqlDbType.TimestampTz, expires));
        insert.Parameters.Add(Array("external", NpgsqlDbType.Text, external));
        insert.Parameters.Add(Array("dedupe", NpgsqlDbType.Text, dedupe));
        insert.Parameters.Add(Array("route", NpgsqlDbType.Jsonb, route));
        insert.Parameters.Add(Array("status", NpgsqlDbType.Smallint, status));
        insert.Parameters.Add(Array("due", NpgsqlDbType.TimestampTz, due));
        insert.Parameters.Add(Array("hash", NpgsqlDbType.Bytea, hash));
        insert.Parameters.Add(Array("actions", NpgsqlDbType.Jsonb, actions));
        insert.Parameters.Add(Array("reply_until", NpgsqlDbType.TimestampTz, replyUntil));
        insert.Parameters.Add(Array("trace", NpgsqlDbType.Text, trace));
        insert.Parameters.Add(Array("sealed", NpgsqlDbType.Bytea, sealedValues));
        insert.Parameters.Add(Array("phone_hash", NpgsqlDbType.Bytea, phoneHash));
        insert.Parameters.Add(Array("email_hash", NpgsqlDbType.Bytea, emailHash));
        batch.BatchCommands.Add(insert);
        if (keyed.Count > 0)
        {
            var lookup = new NpgsqlBatchCommand(DedupeLookupSql);
            lookup.Parameters.Add(Array("k_tenant", NpgsqlDbType.Uuid, keyed.Select(i => items[i].Request.TenantId).ToArray()));
            lookup.Parameters.Add(Array("k_key", NpgsqlDbType.Text, keyed.Select(i => items[i].Request.DedupeKey!).ToArray()));
            batch.BatchCommands.Add(lookup);
        }

        // A batch without an explicit transaction runs as one implicit transaction: all or nothing, one round trip.
        var created = new Dictionary<Guid, NotificationStatus>();
        var existing = new Dictionary<int, (Guid Id, NotificationStatus Status, byte[]? Hash)>();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                created.Add(reader.GetGuid(0), (NotificationStatus)reader.GetInt16(1));
            }

            if (keyed.Count > 0 && await reader.NextResultAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    var ord = (int)reader.GetInt64(0) - 1;
                    existing[keyed[ord]] = (reader.GetGuid(1), (NotificationStatus)reader.GetInt16(2), reader.IsDBNull(3) ? null : (byte[])reader.GetValue(3));
                }
            }
        }

        if (created.ContainsValue(NotificationStatus.Accepted))
        {
            await ChangeFeed.NotifyWorkAsync(conn);
        }

        var results = new AcceptResult[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            var first = firstOf[i];
            AcceptResult result;
            byte[]? holder;
            if (created.TryGetValue(items[first].Id, out var createdStatus))
            {
                result = new AcceptResult(items[first].Id, true, createdStatus);
                holder = items[first].RequestHash;
            }
            else if (existing.TryGetValue(first, out var found))
            {
                result = new AcceptResult(found.Id, false, found.Status);
                holder = found.Hash;
            }
            else
            {
                throw new InvalidOperationException($"Notification {items[first].Id} was neither stored nor matched by its dedupe key.");
            }

            results[i] = first == i && result.Created ? result
                : result with { Created = false, Mismatch = AcceptResult.Differs(holder, items[i].RequestHash) };
        }

        return results;
    }

    public async Task<int> ReleaseDedupeKeysAsync(DateTimeOffset createdBefore, int max, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            UPDATE notifications SET dedupe_key = NULL
            WHERE id IN (
                SELECT id FROM notifications
                WHERE dedupe_key IS NOT NULL AND created_at < @before
                ORDER BY created_at
                LIMIT @max
                FOR UPDATE SKIP LOCKED)
            """);
        cmd.Parameters.Add(Param("before", Utc(createdBefore)));
        cmd.Parameters.Add(Param("max", Math.Max(0, max)));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<Notification?> GetAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {NotificationColumns} FROM notifications n WHERE n.id = @id AND n.tenant_id = @tenant");
        cmd.Parameters.Add(Param("id", id));
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await cmd.ReadFirstAsync(r => ReadNotification(r, keys), ct);
    }

    public async Task<IReadOnlyList<Attempt>> GetAttemptsAsync(Guid tenantId, Guid notificationId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"SELECT {AttemptColumns} FROM attempts a WHERE a.notification_id = @id AND a.tenant_id = @tenant ORDER BY a.created_at, a.id");
        cmd.Parameters.Add(Param("id", notificationId));
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await cmd.ReadAllAsync(static r => ReadAttempt(r), ct);
    }

    public async Task<IReadOnlyList<Notification>> SearchAsync(Guid tenantId, NotificationQuery query, CancellationToken ct)
    {
        // Only the filters given go into the SQL, so each shape gets its own plan.
        var sql = new StringBuilder($"SELECT {NotificationColumns} FROM notifications n WHERE n.tenant_id = @tenant");
        await using var cmd = dataSource.CreateCommand();
        cmd.Parameters.Add(Param("tenant", tenantId));
        if (query.Status is { } status)
        {
            sql.Append(" AND n.status = @status");
            cmd.Parameters.Add(Param("status", (short)status));
        }

        if (query.Type is { } type)
        {
            sql.Append(" AND n.type = @type");
            cmd.Parameters.Add(Param("type", type));
        }

        if (query.ExternalId is { } externalId)
        {
            sql.Append(" AND n.external_id = @external");
            cmd.Parameters.Add(Param("external", externalId));
        }

        if (query.CustomerId is { } customerId)
        {
            sql.Append(" AND n.customer_id = @customer");
            cmd.Parameters.Add(Param("customer", customerId));
        }

        if (query.CreatedFrom is { } from)
        {
            sql.Append(" AND n.created_at >= @from");
            cmd.Parameters.Add(Param("from", Utc(from)));
        }

        if (query.CreatedTo is { } to)
        {
            sql.Append(" AND n.created_at < @to");
            cmd.Parameters.Add(Param("to", Utc(to)));
        }

        if (query.Channel is { } channel)
        {
            sql.Append(" AND n.channel = @channel");
            cmd.Parameters.Add(Param("channel", (short)channel));
        }

        if (query.Priority is { } priority)
        {
            sql.Append(" AND n.priority = @priority");
            cmd.Parameters.Add(Param("priority", (short)priority));
        }

        if (query.SourceId is { } source)
        {
            sql.Append(" AND n.source_id = @source");
            cmd.Parameters.Add(Param("source", source));
        }

        if (query.Before is { } before)
        {
            sql.Append(" AND n.id < @before");
            cmd.Parameters.Add(Param("before", before));
        }

        sql.Append(" ORDER BY n.id DESC LIMIT @limit");
        cmd.Parameters.Add(Param("limit", Math.Clamp(query.Limit, 1, 500)));
        cmd.CommandText = sql.ToString();
        return await cmd.ReadAllAsync(r => ReadNotification(r, keys), ct);
    }

    public async Task<IReadOnlyList<NotificationCount>> CountAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT floor(extract(epoch FROM n.created_at) * 1000 / @bucket)::bigint, n.channel, n.status, n.priority, count(*),
                   count(*) FILTER (WHERE n.step > 0)
            FROM notifications n
            WHERE n.tenant_id = @tenant AND n.id >= @first AND n.id < @last
            GROUP BY 1, 2, 3, 4
            ORDER BY 1, 2 NULLS FIRST, 3, 4 -- as the counts (channel -1) and SQLite order: not yet on a channel first
            """);
        var width = (long)bucket.TotalMilliseconds;
        cmd.Parameters.Add(Param("bucket", width));
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("first", TimeOrderedIds.Floor(from)));
        cmd.Parameters.Add(Param("last", TimeOrderedIds.Floor(to)));
        return await cmd.ReadAllAsync(r => new NotificationCount(
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0) * width),
            r.IsDBNull(1) ? null : (Channel)r.GetInt16(1),
            (NotificationStatus)r.GetInt16(2),
            (Priority)r.GetInt16(3),
            r.GetInt64(4)) { Fallbacks = r.GetInt64(5) }, ct);
    }
}
