using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresWebhookStore(NpgsqlDataSource dataSource, TenantKeys keys) : IWebhookStore
{
    private const string EndpointColumns = "e.id, e.tenant_id, e.url, e.secret, e.statuses, e.enabled, e.description, e.created_at, e.updated_at";
    private const int EndpointColumnCount = 9;

    private const string DeliveryColumns =
        "d.id, d.tenant_id, d.endpoint_id, d.event_id, d.notification_id, d.status, d.occurred_at, d.state, d.attempts, " +
        "d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at";

    private const int DeliveryColumnCount = 14;

    public async Task<WebhookEndpoint> CreateEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct)
    {
        var stored = endpoint with { CreatedAt = Utc(endpoint.CreatedAt), UpdatedAt = Utc(endpoint.UpdatedAt) };
        await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO webhook_endpoints (id, tenant_id, url, secret, statuses, enabled, description, created_at, updated_at)
                VALUES (@id, @tenant, @url, @secret, @statuses, @enabled, @description, @created, @updated)
                """, connection);
            AddEndpointParameters(cmd, stored);
            cmd.Parameters.Add(Param("created", stored.CreatedAt));
            return await cmd.ExecuteNonQueryAsync(ct);
        }, static n => n > 0, ct);
        return stored;
    }

    public async Task<IReadOnlyList<WebhookEndpoint>> ListEndpointsAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {EndpointColumns} FROM webhook_endpoints e WHERE e.tenant_id = @tenant ORDER BY e.created_at, e.id");
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await cmd.ReadAllAsync(static r => ReadEndpoint(r), ct);
    }

    public async Task<WebhookEndpoint?> GetEndpointAsync(Guid tenantId, Guid endpointId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {EndpointColumns} FROM webhook_endpoints e WHERE e.id = @id AND e.tenant_id = @tenant");
        cmd.Parameters.Add(Param("id", endpointId));
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await cmd.ReadFirstAsync(static r => ReadEndpoint(r), ct);
    }

    public async Task<bool> UpdateEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct)
    {
        return await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand(
                """
                UPDATE webhook_endpoints SET url = @url, secret = @secret, statuses = @statuses, enabled = @enabled,
                    description = @description, updated_at = @updated
                WHERE id = @id AND tenant_id = @tenant
                """, connection);
            AddEndpointParameters(cmd, endpoint with { UpdatedAt = Utc(endpoint.UpdatedAt) });
            return await cmd.ExecuteNonQueryAsync(ct) == 1;
        }, static updated => updated, ct);
    }

    public async Task<bool> DeleteEndpointAsync(Guid tenantId, Guid endpointId, CancellationToken ct)
    {
        return await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand("DELETE FROM webhook_endpoints WHERE id = @id AND tenant_id = @tenant", connection);
            cmd.Parameters.Add(Param("id", endpointId));
            cmd.Parameters.Add(Param("tenant", tenantId));
            return await cmd.ExecuteNonQueryAsync(ct) == 1;
        }, static deleted => deleted, ct);
    }

    public async Task<int> FanOutAsync(int max, DateTimeOffset now, CancellationToken ct)
    {
        // One statement: take events (skipping those another node holds), create the deliveries, delete the events.
        await using var cmd = dataSource.CreateCommand(
            $"""
            WITH ev AS (
                DELETE FROM webhook_events w
                WHERE w.seq IN (SELECT seq FROM webhook_events ORDER BY seq LIMIT @max FOR UPDATE SKIP LOCKED)
                RETURNING w.id, w.tenant_id, w.notification_id, w.status, w.occurred_at, w.message_id, w.consent_id
            ), ins AS (
                -- An endpoint's status filter applies to status events; inbound events (message_id set) and consent
                -- events (consent_id set) reach every endpoint.
                INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, notification_id, status, occurred_at,
                    state, attempts, next_attempt_at, created_at, updated_at, message_id, consent_id)
                SELECT herald_uuid_v7(), ev.tenant_id, e.id, ev.id, ev.notification_id, ev.status, ev.occurred_at, {StateSql.WebhookPending}, 0, @now, @now, @now, ev.message_id, ev.consent_id
                FROM ev JOIN webhook_endpoints e ON e.tenant_id = ev.tenant_id AND e.enabled
                    AND (ev.message_id IS NOT NULL OR ev.consent_id IS NOT NULL OR cardinality(e.statuses) = 0 OR ev.status = ANY (e.statuses))
            )
            SELECT count(*)::int FROM ev
            """);
        cmd.Parameters.Add(Param("max", Math.Max(0, max)));
        cmd.Parameters.Add(Param("now", Utc(now)));
        return (int)(await cmd.ExecuteScalarAsync(ct))!;
    }

    public async Task<IReadOnlyList<ClaimedWebhookDelivery>> ClaimDeliveriesAsync(int max, TimeSpan lease, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"""
            WITH c AS (
                UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = @until, updated_at = @now
                WHERE d.id IN (
                    SELECT id FROM webhook_deliveries
                    WHERE state = {StateSql.WebhookPending} AND next_attempt_at <= @now
                    ORDER BY next_attempt_at
                    LIMIT @max
                    FOR UPDATE SKIP LOCKED)
                RETURNING d.*
            )
            SELECT {DeliveryColumns}, {EndpointColumns}, {NotificationColumns}, {PostgresCustomerMessageStore.MessageColumns}, {PostgresConsentStore.Columns}
            FROM c d
            JOIN webhook_endpoints e ON e.id = d.endpoint_id
            LEFT JOIN notifications n ON n.id = d.notification_id
            LEFT JOIN customer_messages m ON m.id = d.message_id
            LEFT JOIN consents c ON c.id = d.consent_id
            ORDER BY d.next_attempt_at, d.id
            """);
        cmd.Parameters.Add(Param("max", Math.Max(0, max)));
        cmd.Parameters.Add(Param("now", Utc(now)));
        cmd.Parameters.Add(Param("until", Utc(now + lease)));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ClaimedWebhookDelivery>();
        while (await r.ReadAsync(ct))
        {
            var notification = r.IsDBNull(DeliveryColumnCount + EndpointColumnCount) ? null : ReadNotification(r, keys, DeliveryColumnCount + EndpointColumnCount);
            const int messageAt = DeliveryColumnCount + EndpointColumnCount + NotificationColumnCount;
            const int consentAt = messageAt + PostgresCustomerMessageStore.MessageColumnCount;
            list.Add(new ClaimedWebhookDelivery(ReadDelivery(r), ReadEndpoint(r, DeliveryColumnCount), notification)
            {
                Message = r.IsDBNull(messageAt) ? null : PostgresCustomerMessageStore.ReadMessage(r, keys, messageAt),
                Consent = r.IsDBNull(consentAt) ? null : PostgresConsentStore.Read(r, keys, consentAt),
            });
        }

        return list;
    }

    public async Task CompleteDeliveriesAsync(IReadOnlyList<WebhookDeliveryResult> results, DateTimeOffset now, CancellationToken ct)
    {
        if (results.Count == 0)
        {
            return;
        }

        await using var cmd = dataSource.CreateCommand(
            """
            UPDATE webhook_deliveries d
            SET state = u.state, next_attempt_at = u.next, last_status_code = u.code, last_error = u.error, updated_at = @now
            FROM unnest(@id, @state, @next, @code, @error, @attempt) AS u(id, state, next, code, error, attempt)
            WHERE d.id = u.id AND (u.attempt IS NULL OR d.attempts = u.attempt)
            """);
        cmd.Parameters.Add(Param("now", Utc(now)));
        cmd.Parameters.Add(Array("id", NpgsqlDbType.Uuid, results.Select(x => x.DeliveryId).ToArray()));
        cmd.Parameters.Add(Array("state", NpgsqlDbType.Smallint, results.Select(x => (short)x.State).ToArray()));
        cmd.Parameters.Add(Array("next", NpgsqlDbType.TimestampTz, results.Select(x => Utc(x.NextAttemptAt)).ToArray()));
        cmd.Parameters.Add(Array("code", NpgsqlDbType.Integer, results.Select(x => x.StatusCode).ToArray()));
        cmd.Parameters.Add(Array("error", NpgsqlDbType.Text, results.Select(x => x.Error).ToArray()));
        cmd.Parameters.Add(Array("attempt", NpgsqlDbType.Integer, results.Select(x => x.Attempt).ToArray()));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<IReadOnlyList<WebhookDelivery>> ListDeliveriesAsync(Guid tenantId, WebhookDeliveryQuery query, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"""
            SELECT {DeliveryColumns} FROM webhook_deliveries d
            WHERE d.tenant_id = @tenant
              AND (@state::smallint IS NULL OR d.state = @state)
              AND (@endpoint::uuid IS NULL OR d.endpoint_id = @endpoint)
              AND (@notification::uuid IS NULL OR d.notification_id = @notification)
              AND (@before::uuid IS NULL OR d.id < @before)
            ORDER BY d.id DESC
            LIMIT @limit
            """);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("state", NpgsqlDbType.Smallint, query.State is { } s ? (short)s : null));
        cmd.Parameters.Add(Param("endpoint", NpgsqlDbType.Uuid, query.EndpointId));
        cmd.Parameters.Add(Param("notification", NpgsqlDbType.Uuid, query.NotificationId));
        cmd.Parameters.Add(Param("before", NpgsqlDbType.Uuid, query.Before));
        cmd.Parameters.Add(Param("limit", Math.Clamp(query.Limit, 1, 500)));
        return await cmd.ReadAllAsync(ReadDelivery, ct);
    }

    public async Task<WebhookDelivery?> GetDeliveryAsync(Guid tenantId, Guid deliveryId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {DeliveryColumns} FROM webhook_deliveries d WHERE d.id = @id AND d.tenant_id = @tenant");
        cmd.Parameters.Add(Param("id", deliveryId));
        cmd.Parameters.Add(Param("tenant", tenantId));
        return await cmd.ReadFirstAsync(ReadDelivery, ct);
    }

    public async Task<bool> RedeliverAsync(Guid tenantId, Guid deliveryId, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"UPDATE webhook_deliveries SET state = {StateSql.WebhookPending}, next_attempt_at = @now, created_at = @now, updated_at = @now WHERE id = @id AND tenant_id = @tenant");
        cmd.Parameters.Add(Param("id", deliveryId));
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("now", Utc(now)));
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<int> RedeliverDeadAsync(Guid tenantId, Guid? endpointId, DateTimeOffset? since, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"""
            UPDATE webhook_deliveries SET state = {StateSql.WebhookPending}, next_attempt_at = @now, created_at = @now, updated_at = @now
            WHERE tenant_id = @tenant AND state = {StateSql.WebhookDead}
              AND (@endpoint::uuid IS NULL OR endpoint_id = @endpoint) AND (@since::timestamptz IS NULL OR occurred_at >= @since)
            """);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("endpoint", NpgsqlDbType.Uuid, endpointId));
        cmd.Parameters.Add(Param("since", NpgsqlDbType.TimestampTz, Utc(since)));
        cmd.Parameters.Add(Param("now", Utc(now)));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private static void AddEndpointParameters(NpgsqlCommand cmd, WebhookEndpoint endpoint)
    {
        cmd.Parameters.Add(Param("id", endpoint.Id));
        cmd.Parameters.Add(Param("tenant", endpoint.TenantId));
        cmd.Parameters.Add(Param("url", endpoint.Url));
        cmd.Parameters.Add(Param("secret", endpoint.Secret));
        cmd.Parameters.Add(Array("statuses", NpgsqlDbType.Smallint, endpoint.Statuses.Select(s => (short)s).ToArray()));
        cmd.Parameters.Add(Param("enabled", endpoint.Enabled));
        cmd.Parameters.Add(Param("description", NpgsqlDbType.Text, endpoint.Description));
        cmd.Parameters.Add(Param("updated", Utc(endpoint.UpdatedAt)));
    }

    private static WebhookEndpoint ReadEndpoint(NpgsqlDataReader r, int o = 0) => new(
        r.GetGuid(o),
        r.GetGuid(o + 1),
        r.GetString(o + 2),
        r.GetString(o + 3),
        [.. r.GetFieldValue<short[]>(o + 4).Select(s => (NotificationStatus)s)],
        r.GetBoolean(o + 5),
        NullableString(r, o + 6),
        r.GetFieldValue<DateTimeOffset>(o + 7),
        r.GetFieldValue<DateTimeOffset>(o + 8));

    private static WebhookDelivery ReadDelivery(NpgsqlDataReader r) => new(
        r.GetGuid(0),
        r.GetGuid(1),
        r.GetGuid(2),
        r.GetGuid(3),
        r.GetGuid(4),
        (NotificationStatus)r.GetInt16(5),
        r.GetFieldValue<DateTimeOffset>(6),
        (WebhookDeliveryState)r.GetInt16(7),
        r.GetInt32(8),
        NullableTime(r, 9),
        r.IsDBNull(10) ? null : r.GetInt32(10),
        NullableString(r, 11),
        r.GetFieldValue<DateTimeOffset>(12),
        r.GetFieldValue<DateTimeOffset>(13));
}
