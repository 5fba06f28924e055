using System.Text.Json;
using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Microsoft.Data.Sqlite;
using static Herald.Storage.Sqlite.SqliteValues;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteWebhookStore(SqliteDatabase db, TenantKeys keys) : IWebhookStore
{
    private const string EndpointColumns = "e.id, e.tenant_id, e.url, e.secret, e.statuses, e.enabled, e.description, e.created_at, e.updated_at";

    private const string DeliveryColumns =
        "d.id, d.tenant_id, d.endpoint_id, d.event_id, d.notification_id, d.status, d.occurred_at, d.state, d.attempts, " +
        "d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at";

    public async Task<WebhookEndpoint> CreateEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct)
    {
        await db.WriteAsync(
            scope => SqliteAuditStore.Audited(scope, SetEndpoint(scope.Command(
                    "INSERT INTO webhook_endpoints (id, tenant_id, url, secret, statuses, enabled, description, created_at, updated_at) " +
                    "VALUES ($id, $tenant, $url, $secret, $statuses, $enabled, $description, $created, $updated)"), endpoint)
                .Set("$created", Ms(endpoint.CreatedAt))
                .ExecuteNonQuery()),
            ct).ConfigureAwait(false);
        return endpoint with { CreatedAt = Time(Ms(endpoint.CreatedAt)), UpdatedAt = Time(Ms(endpoint.UpdatedAt)) };
    }

    public Task<IReadOnlyList<WebhookEndpoint>> ListEndpointsAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<WebhookEndpoint>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {EndpointColumns} FROM webhook_endpoints e WHERE e.tenant_id = $tenant ORDER BY e.created_at, e.id";
                command.Set("$tenant", Id(tenantId));
                return command.ReadAll(r => ReadEndpoint(r));
            },
            ct);

    public Task<WebhookEndpoint?> GetEndpointAsync(Guid tenantId, Guid endpointId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {EndpointColumns} FROM webhook_endpoints e WHERE e.id = $id AND e.tenant_id = $tenant";
                command.Set("$id", Id(endpointId)).Set("$tenant", Id(tenantId));
                return command.ReadFirst(r => ReadEndpoint(r));
            },
            ct);

    public Task<bool> UpdateEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct) =>
        db.WriteAsync(
            scope => SqliteAuditStore.Audited(scope, SetEndpoint(scope.Command(
                    "UPDATE webhook_endpoints SET url = $url, secret = $secret, statuses = $statuses, enabled = $enabled, " +
                    "description = $description, updated_at = $updated WHERE id = $id AND tenant_id = $tenant"), endpoint)
                .ExecuteNonQuery()) == 1,
            ct);

    public Task<bool> DeleteEndpointAsync(Guid tenantId, Guid endpointId, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                // Deliveries first: the embedded store does not rely on ON DELETE CASCADE being enabled.
                scope.Command("DELETE FROM webhook_deliveries WHERE endpoint_id = $id AND tenant_id = $tenant")
                    .Set("$id", Id(endpointId)).Set("$tenant", Id(tenantId)).ExecuteNonQuery();
                return SqliteAuditStore.Audited(scope, scope.Command("DELETE FROM webhook_endpoints WHERE id = $id AND tenant_id = $tenant")
                    .Set("$id", Id(endpointId)).Set("$tenant", Id(tenantId)).ExecuteNonQuery()) == 1;
            },
            ct);

    public Task<int> FanOutAsync(int max, DateTimeOffset now, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var events = scope.Command("SELECT seq, tenant_id, notification_id, status, occurred_at, message_id, consent_id FROM webhook_events ORDER BY seq LIMIT $max")
                    .Set("$max", Math.Max(0, max))
                    .ReadAll(r => (Seq: r.GetInt64(0), Tenant: r.GetString(1), Notification: r.GetString(2), Status: r.GetInt16(3), At: r.GetInt64(4),
                        Message: r.GetStringOrNull(5), Consent: r.GetStringOrNull(6)));
                if (events.Count == 0)
                {
                    return 0;
                }

                var endpoints = new Dictionary<string, List<(string Id, NotificationStatus[] Statuses)>>();
                var select = scope.Command("SELECT id, statuses FROM webhook_endpoints WHERE tenant_id = $tenant AND enabled = 1");
                var insert = scope.Command(
                    "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, notification_id, status, occurred_at, state, attempts, " +
                    $"next_attempt_at, created_at, updated_at, message_id, consent_id) VALUES ($id, $tenant, $endpoint, $event, $notification, $status, $at, {StateSql.WebhookPending}, 0, $now, $now, $now, $message, $consent)");
                var nowMs = Ms(now);
                foreach (var e in events)
                {
                    if (!endpoints.TryGetValue(e.Tenant, out var list))
                    {
                        list = select.Set("$tenant", e.Tenant).ReadAll(r => (r.GetString(0), ReadStatuses(r.GetString(1))));
                        endpoints[e.Tenant] = list;
                    }

                    var eventId = Id(TimeOrderedIds.New(now));
                    foreach (var (endpointId, statuses) in list)
                    {
                        // An endpoint's status filter applies to status events; inbound events reach every endpoint.
                        if (e.Message is null && e.Consent is null && statuses.Length > 0 && !statuses.Contains((NotificationStatus)e.Status))
                        {
                            continue;
                        }

                        insert.Set("$id", Id(TimeOrderedIds.New(now))).Set("$tenant", e.Tenant).Set("$endpoint", endpointId)
                            .Set("$event", eventId).Set("$notification", e.Notification).Set("$status", (int)e.Status)
                            .Set("$at", e.At).Set("$now", nowMs).Set("$message", Text(e.Message)).Set("$consent", Text(e.Consent)).ExecuteNonQuery();
                    }
                }

                scope.Command("DELETE FROM webhook_events WHERE seq <= $last").Set("$last", events[^1].Seq).ExecuteNonQuery();
                return events.Count;
            },
            ct);

    public Task<IReadOnlyList<ClaimedWebhookDelivery>> ClaimDeliveriesAsync(int max, TimeSpan lease, DateTimeOffset now, CancellationToken ct) =>
        db.WriteAsync<IReadOnlyList<ClaimedWebhookDelivery>>(
            scope =>
            {
                var due = scope.Command($"SELECT id FROM webhook_deliveries WHERE state = {StateSql.WebhookPending} AND next_attempt_at <= $now ORDER BY next_attempt_at, id LIMIT $max")
                    .Set("$now", Ms(now)).Set("$max", Math.Max(0, max))
                    .ReadAll(r => r.GetString(0));
                var claim = scope.Command("UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $until, updated_at = $now WHERE id = $id");
                var read = scope.Command(
                    $"SELECT {DeliveryColumns}, {EndpointColumns} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $id");
                var notification = scope.Command($"SELECT {NotificationColumns} FROM notifications n WHERE n.id = $id");
                var message = scope.Command(
                    $"SELECT {SqliteCustomerMessageStore.MessageColumns} FROM webhook_deliveries d JOIN customer_messages m ON m.id = d.message_id WHERE d.id = $id");
                var consent = scope.Command(
                    $"SELECT {SqliteConsentStore.Columns} FROM webhook_deliveries d JOIN consents c ON c.id = d.consent_id WHERE d.id = $id");
                var list = new List<ClaimedWebhookDelivery>(due.Count);
                foreach (var id in due)
                {
                    claim.Set("$until", Ms(now + lease)).Set("$now", Ms(now)).Set("$id", id).ExecuteNonQuery();
                    var claimed = read.Set("$id", id).ReadFirst(r => new ClaimedWebhookDelivery(ReadDelivery(r), ReadEndpoint(r, 14), null))!;
                    var n = notification.Set("$id", Id(claimed.Delivery.NotificationId)).ReadFirst(r => ReadNotification(r, keys));
                    list.Add(claimed with
                    {
                        Notification = n,
                        Message = message.Set("$id", id).ReadFirst(r => SqliteCustomerMessageStore.ReadMessage(r, keys)),
                        Consent = consent.Set("$id", id).ReadFirst(r => SqliteConsentStore.Read(r, keys)),
                    });
                }

                return list;
            },
            ct);

    public Task CompleteDeliveriesAsync(IReadOnlyList<WebhookDeliveryResult> results, DateTimeOffset now, CancellationToken ct) =>
        results.Count == 0
            ? Task.CompletedTask
            : db.WriteAsync(
                scope =>
                {
                    var update = scope.Command(
                        "UPDATE webhook_deliveries SET state = $state, next_attempt_at = $next, last_status_code = $code, last_error = $error, " +
                        "updated_at = $now WHERE id = $id AND ($attempt IS NULL OR attempts = $attempt)");
                    foreach (var x in results)
                    {
                        update.Set("$state", (int)x.State).Set("$next", Ms(x.NextAttemptAt)).Set("$code", x.StatusCode)
                            .Set("$error", Text(x.Error)).Set("$now", Ms(now)).Set("$id", Id(x.DeliveryId)).Set("$attempt", x.Attempt).ExecuteNonQuery();
                    }

                    return 0;
                },
                ct);

    public Task<IReadOnlyList<WebhookDelivery>> ListDeliveriesAsync(Guid tenantId, WebhookDeliveryQuery query, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<WebhookDelivery>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText =
                    $"SELECT {DeliveryColumns} FROM webhook_deliveries d WHERE d.tenant_id = $tenant " +
                    "AND ($state IS NULL OR d.state = $state) AND ($endpoint IS NULL OR d.endpoint_id = $endpoint) " +
                    "AND ($notification IS NULL OR d.notification_id = $notification) AND ($before IS NULL OR d.id < $before) " +
                    "ORDER BY d.id DESC LIMIT $limit";
                command.Set("$tenant", Id(tenantId))
                    .Set("$state", query.State is { } s ? (int)s : null)
                    .Set("$endpoint", Id(query.EndpointId))
                    .Set("$notification", Id(query.NotificationId))
                    .Set("$before", Id(query.Before))
                    .Set("$limit", Math.Clamp(query.Limit, 1, 500));
                return command.ReadAll(ReadDelivery);
            },
            ct);

    public Task<WebhookDelivery?> GetDeliveryAsync(Guid tenantId, Guid deliveryId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {DeliveryColumns} FROM webhook_deliveries d WHERE d.id = $id AND d.tenant_id = $tenant";
                command.Set("$id", Id(deliveryId)).Set("$tenant", Id(tenantId));
                return command.ReadFirst(ReadDelivery);
            },
            ct);

    public Task<bool> RedeliverAsync(Guid tenantId, Guid deliveryId, DateTimeOffset now, CancellationToken ct) =>
        db.WriteAsync(
            scope => scope.Command($"UPDATE webhook_deliveries SET state = {StateSql.WebhookPending}, next_attempt_at = $now, created_at = $now, updated_at = $now WHERE id = $id AND tenant_id = $tenant")
                .Set("$now", Ms(now)).Set("$id", Id(deliveryId)).Set("$tenant", Id(tenantId)).ExecuteNonQuery() == 1,
            ct);

    public Task<int> RedeliverDeadAsync(Guid tenantId, Guid? endpointId, DateTimeOffset? since, DateTimeOffset now, CancellationToken ct) =>
        db.WriteAsync(
            scope => scope.Command(
                    $"""
                    UPDATE webhook_deliveries SET state = {StateSql.WebhookPending}, next_attempt_at = $now, created_at = $now, updated_at = $now
                    WHERE tenant_id = $tenant AND state = {StateSql.WebhookDead}
                      AND ($endpoint IS NULL OR endpoint_id = $endpoint) AND ($since IS NULL OR occurred_at >= $since)
                    """)
                .Set("$now", Ms(now)).Set("$tenant", Id(tenantId))
                .Set("$endpoint", Id(endpointId)).Set("$since", Ms(since))
                .ExecuteNonQuery(),
            ct);

    private static SqliteCommand SetEndpoint(SqliteCommand command, WebhookEndpoint endpoint) => command
        .Set("$id", Id(endpoint.Id))
        .Set("$tenant", Id(endpoint.TenantId))
        .Set("$url", endpoint.Url)
        .Set("$secret", endpoint.Secret)
        .Set("$statuses", JsonSerializer.Serialize(endpoint.Statuses.Select(s => (int)s).ToArray()))
        .Set("$enabled", endpoint.Enabled ? 1 : 0)
        .Set("$description", Text(endpoint.Description))
        .Set("$updated", Ms(endpoint.UpdatedAt));

    private static NotificationStatus[] ReadStatuses(string json) =>
        [.. (JsonSerializer.Deserialize<int[]>(json) ?? []).Select(s => (NotificationStatus)s)];

    private static WebhookEndpoint ReadEndpoint(SqliteDataReader r, int o = 0) => new(
        r.GetId(o),
        r.GetId(o + 1),
        r.GetString(o + 2),
        r.GetString(o + 3),
        ReadStatuses(r.GetString(o + 4)),
        r.GetInt64(o + 5) != 0,
        r.GetStringOrNull(o + 6),
        r.GetTime(o + 7),
        r.GetTime(o + 8));

    private static WebhookDelivery ReadDelivery(SqliteDataReader r) => new(
        r.GetId(0),
        r.GetId(1),
        r.GetId(2),
        r.GetId(3),
        r.GetId(4),
        (NotificationStatus)r.GetInt16(5),
        r.GetTime(6),
        (WebhookDeliveryState)r.GetInt16(7),
        r.GetInt32(8),
        r.GetTimeOrNull(9),
        r.IsDBNull(10) ? null : r.GetInt32(10),
        r.GetStringOrNull(11),
        r.GetTime(12),
        r.GetTime(13));
}
