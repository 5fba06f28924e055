using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// The webhook store contract (WebhookContracts.cs), run unchanged on every backend: the outbox captures each move
/// into a final state for tenants with an enabled endpoint, fan-out makes one delivery per matching endpoint
/// exactly once, claims are leases, and everything is tenant-scoped.
/// </summary>
public abstract class WebhookStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);
    private int _tick;

    private IWebhookStore Webhooks => Stores.Webhooks;

    [Fact]
    public async Task Endpoints_CreateListGetUpdateDelete_AreTenantScoped()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        var endpoint = Endpoint(a, NotificationStatus.Delivered, NotificationStatus.Failed);

        Assert.Equal(endpoint, await Webhooks.CreateEndpointAsync(endpoint, Ct), EndpointComparer.Instance);
        Assert.Equal(endpoint, await Webhooks.GetEndpointAsync(a, endpoint.Id, Ct), EndpointComparer.Instance);
        Assert.Null(await Webhooks.GetEndpointAsync(b, endpoint.Id, Ct));
        Assert.Empty(await Webhooks.ListEndpointsAsync(b, Ct));

        var changed = endpoint with { Url = "https://bank.example/hooks/v2", Statuses = [], Enabled = false, Description = "v2", UpdatedAt = T0.AddMinutes(1) };
        Assert.False(await Webhooks.UpdateEndpointAsync(changed with { TenantId = b }, Ct));
        Assert.True(await Webhooks.UpdateEndpointAsync(changed, Ct));
        Assert.Equal(changed, Assert.Single(await Webhooks.ListEndpointsAsync(a, Ct)), EndpointComparer.Instance);

        Assert.False(await Webhooks.DeleteEndpointAsync(b, endpoint.Id, Ct));
        Assert.True(await Webhooks.DeleteEndpointAsync(a, endpoint.Id, Ct));
        Assert.Empty(await Webhooks.ListEndpointsAsync(a, Ct));
    }

    [Fact]
    public async Task FinalTransition_WithEndpoint_BecomesOneDeliveryPerMatchingEndpoint()
    {
        var tenant = await NewTenantAsync();
        var all = await Webhooks.CreateEndpointAsync(Endpoint(tenant), Ct);
        var failuresOnly = await Webhooks.CreateEndpointAsync(Endpoint(tenant, NotificationStatus.Failed), Ct);
        await Webhooks.CreateEndpointAsync(Endpoint(tenant) with { Enabled = false }, Ct);
        var id = await AcceptAsync(tenant);

        await MoveAsync(id, 0, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)));
        Assert.Equal(0, await Webhooks.FanOutAsync(100, T0, Ct));

        await MoveAsync(id, 1, NotificationStatus.Delivered, QueueAction.Remove);
        Assert.Equal(1, await Webhooks.FanOutAsync(100, T0.AddSeconds(1), Ct));
        Assert.Equal(0, await Webhooks.FanOutAsync(100, T0.AddSeconds(1), Ct));

        var delivery = Assert.Single(await Webhooks.ListDeliveriesAsync(tenant, new(), Ct));
        Assert.Equal(all.Id, delivery.EndpointId);
        Assert.Equal(id, delivery.NotificationId);
        Assert.Equal(NotificationStatus.Delivered, delivery.Status);
        Assert.Equal(WebhookDeliveryState.Pending, delivery.State);
        Assert.Equal(0, delivery.Attempts);
        Assert.Equal(T0.AddSeconds(1), delivery.NextAttemptAt);
        Assert.Empty(await Webhooks.ListDeliveriesAsync(tenant, new(EndpointId: failuresOnly.Id), Ct));
    }

    [Fact]
    public async Task FinalTransition_WithoutEnabledEndpoint_CapturesNothing()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        await Webhooks.CreateEndpointAsync(Endpoint(other), Ct);
        var id = await AcceptAsync(tenant);

        await MoveAsync(id, 0, NotificationStatus.Failed, QueueAction.Remove);

        Assert.Equal(0, await Webhooks.FanOutAsync(100, T0, Ct));
    }

    [Fact]
    public async Task EventsForSeveralEndpoints_ShareOneEventId()
    {
        var tenant = await NewTenantAsync();
        await Webhooks.CreateEndpointAsync(Endpoint(tenant), Ct);
        await Webhooks.CreateEndpointAsync(Endpoint(tenant), Ct);
        var id = await AcceptAsync(tenant);
        await MoveAsync(id, 0, NotificationStatus.Cancelled, QueueAction.Remove);

        await Webhooks.FanOutAsync(100, T0, Ct);

        var deliveries = await Webhooks.ListDeliveriesAsync(tenant, new(), Ct);
        Assert.Equal(2, deliveries.Count);
        Assert.Single(deliveries.Select(d => d.EventId).Distinct());
        Assert.Equal(2, deliveries.Select(d => d.EndpointId).Distinct().Count());
    }

    [Fact]
    public async Task FanOut_ConcurrentCallers_TakeEachEventExactlyOnce()
    {
        var tenant = await NewTenantAsync();
        await Webhooks.CreateEndpointAsync(Endpoint(tenant), Ct);
        const int count = 60;
        for (var i = 0; i < count; i++)
        {
            await MoveAsync(await AcceptAsync(tenant), 0, NotificationStatus.Delivered, QueueAction.Remove);
        }

        var taken = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            var total = 0;
            int n;
            while ((n = await Webhooks.FanOutAsync(7, T0, Ct)) > 0)
            {
                total += n;
            }

            return total;
        }));

        Assert.Equal(count, taken.Sum());
        var deliveries = await Webhooks.ListDeliveriesAsync(tenant, new(Limit: 500), Ct);
        Assert.Equal(count, deliveries.Select(d => d.NotificationId).Distinct().Count());
        Assert.Equal(count, deliveries.Count);
    }

    [Fact]
    public async Task Claim_IsALease_AndCompleteStoresTheOutcome()
    {
        var (tenant, deliveryId) = await OnePendingDeliveryAsync();

        var claimed = Assert.Single(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0, Ct));
        Assert.Equal(deliveryId, claimed.Delivery.Id);
        Assert.Equal(1, claimed.Delivery.Attempts);
        Assert.Equal("https://bank.example/hooks", claimed.Endpoint.Url);
        Assert.Equal(NotificationStatus.Delivered, claimed.Notification!.Status);
        Assert.Empty(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0.AddSeconds(59), Ct));

        // A dispatcher that died: the claim comes back after the lease.
        var again = Assert.Single(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0.AddSeconds(61), Ct));
        Assert.Equal(2, again.Delivery.Attempts);

        await Webhooks.CompleteDeliveriesAsync([new(deliveryId, WebhookDeliveryState.Pending, T0.AddMinutes(5), 503, "Service Unavailable")], T0.AddSeconds(62), Ct);
        Assert.Empty(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0.AddMinutes(4), Ct));
        var stored = await Webhooks.GetDeliveryAsync(tenant, deliveryId, Ct);
        Assert.Equal((WebhookDeliveryState.Pending, 503, "Service Unavailable", T0.AddMinutes(5)), (stored!.State, stored.LastStatusCode, stored.LastError, stored.NextAttemptAt));

        Assert.Single(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0.AddMinutes(5), Ct));
        await Webhooks.CompleteDeliveriesAsync([new(deliveryId, WebhookDeliveryState.Succeeded, null, 200, null)], T0.AddMinutes(5), Ct);
        Assert.Empty(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0.AddDays(1), Ct));
        Assert.Equal(WebhookDeliveryState.Succeeded, (await Webhooks.GetDeliveryAsync(tenant, deliveryId, Ct))!.State);
    }

    [Fact]
    public async Task CompleteDeliveries_FromATryTakenOver_IsNotStored()
    {
        var (tenant, deliveryId) = await OnePendingDeliveryAsync();
        var slow = Assert.Single(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0, Ct));
        var takeover = Assert.Single(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0.AddSeconds(61), Ct));
        await Webhooks.CompleteDeliveriesAsync([new(deliveryId, WebhookDeliveryState.Succeeded, null, 200, null, takeover.Delivery.Attempts)], T0.AddSeconds(62), Ct);

        // The first dispatcher outlived its lease; its late failure must not undo the takeover's success.
        await Webhooks.CompleteDeliveriesAsync([new(deliveryId, WebhookDeliveryState.Dead, null, null, "timeout", slow.Delivery.Attempts)], T0.AddSeconds(70), Ct);

        var stored = await Webhooks.GetDeliveryAsync(tenant, deliveryId, Ct);
        Assert.Equal((WebhookDeliveryState.Succeeded, 200), (stored!.State, stored.LastStatusCode));
    }

    [Fact]
    public async Task Dead_IsListedByState_AndRedeliverMakesItDueAgain_ForItsTenantOnly()
    {
        var (tenant, deliveryId) = await OnePendingDeliveryAsync();
        var other = await NewTenantAsync();
        Assert.Single(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0, Ct));
        await Webhooks.CompleteDeliveriesAsync([new(deliveryId, WebhookDeliveryState.Dead, null, null, "connection refused")], T0, Ct);

        Assert.Equal(deliveryId, Assert.Single(await Webhooks.ListDeliveriesAsync(tenant, new(State: WebhookDeliveryState.Dead), Ct)).Id);
        Assert.Empty(await Webhooks.ListDeliveriesAsync(tenant, new(State: WebhookDeliveryState.Pending), Ct));
        Assert.Empty(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0.AddDays(10), Ct));

        Assert.False(await Webhooks.RedeliverAsync(other, deliveryId, T0.AddHours(1), Ct));
        Assert.Null(await Webhooks.GetDeliveryAsync(other, deliveryId, Ct));
        Assert.True(await Webhooks.RedeliverAsync(tenant, deliveryId, T0.AddHours(1), Ct));

        var claimed = Assert.Single(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0.AddHours(1), Ct));
        Assert.Equal(2, claimed.Delivery.Attempts);
        // The retry window starts again at the redelivery, so a failure now is retried, not dead at once.
        Assert.Equal(T0.AddHours(1), claimed.Delivery.CreatedAt);
    }

    [Fact]
    public async Task RedeliverDead_TakesTheTenantsDeadLetters_ByEndpointAndEventTime_AndNothingElse()
    {
        var (tenant, first) = await OnePendingDeliveryAsync();
        var endpoint = Assert.Single(await Webhooks.ListEndpointsAsync(tenant, Ct)).Id;
        var other = await NewTenantAsync();
        await Webhooks.CreateEndpointAsync(Endpoint(other), Ct);
        await MoveAsync(await AcceptAsync(other), 0, NotificationStatus.Delivered, QueueAction.Remove);
        await MoveAsync(await AcceptAsync(tenant), 0, NotificationStatus.Delivered, QueueAction.Remove);
        Assert.Equal(2, await Webhooks.FanOutAsync(100, T0, Ct));
        var all = await Webhooks.ClaimDeliveriesAsync(10, Lease, T0, Ct);
        Assert.Equal(3, all.Count);
        // Every delivery dead except the tenant's first, which succeeded.
        await Webhooks.CompleteDeliveriesAsync(
            [.. all.Select(c => new WebhookDeliveryResult(c.Delivery.Id, c.Delivery.Id == first ? WebhookDeliveryState.Succeeded : WebhookDeliveryState.Dead, null, 503, "down"))],
            T0, Ct);
        var since = all.Where(c => c.Delivery.TenantId == tenant).Max(c => c.Delivery.OccurredAt);

        Assert.Equal(0, await Webhooks.RedeliverDeadAsync(tenant, Guid.NewGuid(), null, T0.AddDays(5), Ct));
        Assert.Equal(0, await Webhooks.RedeliverDeadAsync(tenant, endpoint, since.AddMilliseconds(1), T0.AddDays(5), Ct));
        Assert.Equal(1, await Webhooks.RedeliverDeadAsync(tenant, endpoint, since, T0.AddDays(5), Ct));
        Assert.Equal(0, await Webhooks.RedeliverDeadAsync(tenant, null, null, T0.AddDays(5), Ct));

        var due = Assert.Single(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0.AddDays(5), Ct));
        Assert.Equal(tenant, due.Delivery.TenantId);
        Assert.NotEqual(first, due.Delivery.Id);
        Assert.Equal(T0.AddDays(5), due.Delivery.CreatedAt);
        Assert.Equal(WebhookDeliveryState.Dead, Assert.Single(await Webhooks.ListDeliveriesAsync(other, new(), Ct)).State);
    }

    [Fact]
    public async Task DeleteEndpoint_RemovesItsDeliveries()
    {
        var (tenant, _) = await OnePendingDeliveryAsync();
        var endpoint = Assert.Single(await Webhooks.ListEndpointsAsync(tenant, Ct));

        Assert.True(await Webhooks.DeleteEndpointAsync(tenant, endpoint.Id, Ct));

        Assert.Empty(await Webhooks.ListDeliveriesAsync(tenant, new(), Ct));
        Assert.Empty(await Webhooks.ClaimDeliveriesAsync(10, Lease, T0.AddDays(1), Ct));
    }

    [Fact]
    public async Task ListDeliveries_PagesNewestFirstByKeyset()
    {
        var tenant = await NewTenantAsync();
        await Webhooks.CreateEndpointAsync(Endpoint(tenant), Ct);
        for (var i = 0; i < 5; i++)
        {
            await MoveAsync(await AcceptAsync(tenant), 0, NotificationStatus.Delivered, QueueAction.Remove);
            await Webhooks.FanOutAsync(100, T0.AddSeconds(i), Ct);
        }

        var first = await Webhooks.ListDeliveriesAsync(tenant, new(Limit: 3), Ct);
        var second = await Webhooks.ListDeliveriesAsync(tenant, new(Before: first[^1].Id, Limit: 3), Ct);

        Assert.Equal(3, first.Count);
        Assert.Equal(2, second.Count);
        var ids = first.Concat(second).Select(d => d.Id).ToList();
        Assert.Equal(ids.OrderDescending(), ids);
        Assert.Equal(5, ids.Distinct().Count());
    }

    private async Task<(Guid Tenant, Guid DeliveryId)> OnePendingDeliveryAsync()
    {
        var tenant = await NewTenantAsync();
        await Webhooks.CreateEndpointAsync(Endpoint(tenant), Ct);
        await MoveAsync(await AcceptAsync(tenant), 0, NotificationStatus.Delivered, QueueAction.Remove);
        Assert.Equal(1, await Webhooks.FanOutAsync(100, T0, Ct));
        return (tenant, Assert.Single(await Webhooks.ListDeliveriesAsync(tenant, new(), Ct)).Id);
    }

    private WebhookEndpoint Endpoint(Guid tenant, params NotificationStatus[] statuses) =>
        new(NextId(), tenant, "https://bank.example/hooks", "enc:v1:test:c2VjcmV0", statuses, true, null, T0, T0);

    private Guid NextId() => Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _tick)));

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    private async Task<Guid> AcceptAsync(Guid tenant)
    {
        var route = new Route(Priority.Normal, [new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30))]);
        var request = new NewNotification(tenant, null, "card.transaction", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null);
        var result = await Stores.Notifications.AcceptAsync([new PreparedNotification(NextId(), request, route)], T0, Ct);
        return Assert.Single(result).Id;
    }

    private async Task MoveAsync(Guid id, int version, NotificationStatus status, QueueAction queue)
    {
        var applied = await Stores.Delivery.ApplyAsync(
            [new DeliveryUpdate(id, version, new Transition(status, DeliveryProgress.Start, null, queue), [])], T0, Ct);
        Assert.True(Assert.Single(applied.Applied));
    }

    /// <summary>Record equality, with the status list compared by content.</summary>
    private sealed class EndpointComparer : IEqualityComparer<WebhookEndpoint?>
    {
        public static readonly EndpointComparer Instance = new();

        public bool Equals(WebhookEndpoint? x, WebhookEndpoint? y) =>
            x is not null && y is not null && x.Statuses.SequenceEqual(y.Statuses) && x == y with { Statuses = x.Statuses };

        public int GetHashCode(WebhookEndpoint? obj) => obj?.Id.GetHashCode() ?? 0;
    }
}

public sealed class PostgresWebhookStoreComplianceTests(PostgresFixture server) : WebhookStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, TestContext.Current.CancellationToken);
}

public sealed class SqliteWebhookStoreComplianceTests : WebhookStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
