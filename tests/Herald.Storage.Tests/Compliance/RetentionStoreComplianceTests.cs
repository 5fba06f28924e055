using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// The retention store contract (<see cref="IRetentionStore"/>, issue #17), unchanged on every backend: a purge takes
/// only a tenant's final notifications created before the cutoff, with their attempts and parts, in bounded batches;
/// keeps what is not final, younger, another tenant's, or holding an idempotency key inside its window; and takes
/// finished webhook deliveries, never pending ones.
/// </summary>
public abstract class RetentionStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Cutoff = T0.AddDays(30);
    private int _tick;

    [Fact]
    public async Task Settings_RoundTrip_PerTenant_AndUnknownTenantsAreNotFound()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();

        Assert.Equal((true, (int?)null), await Stores.Retention.GetAsync(a, Ct));
        Assert.True(await Stores.Retention.SetAsync(a, 30, Ct));
        Assert.False(await Stores.Retention.SetAsync(Guid.NewGuid(), 30, Ct));

        Assert.Equal((true, (int?)30), await Stores.Retention.GetAsync(a, Ct));
        Assert.Equal((true, (int?)null), await Stores.Retention.GetAsync(b, Ct));
        Assert.Equal((false, (int?)null), await Stores.Retention.GetAsync(Guid.NewGuid(), Ct));
        Assert.Contains((a, (int?)30), await Stores.Retention.ListAsync(Ct));
        Assert.True(await Stores.Retention.SetAsync(a, null, Ct));
        Assert.Equal((true, (int?)null), await Stores.Retention.GetAsync(a, Ct));
    }

    [Fact]
    public async Task Purge_TakesOnlyOldFinalNotificationsOfTheTenant_WithTheirAttempts()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        var oldDelivered = await AcceptAsync(tenant, T0, NotificationStatus.Delivered);
        await Stores.Delivery.BeginAttemptsAsync([Attempt(oldDelivered)], Ct);
        var oldQueued = await AcceptAsync(tenant, T0, NotificationStatus.Accepted);
        var youngDelivered = await AcceptAsync(tenant, Cutoff.AddMinutes(1), NotificationStatus.Delivered);
        var otherTenants = await AcceptAsync(other, T0, NotificationStatus.Delivered);

        var purged = await Stores.Retention.PurgeAsync(tenant, Cutoff, Cutoff, 100, Ct);

        Assert.Equal(new PurgedRows(1, 1, 0), purged);
        Assert.Null(await Stores.Notifications.GetAsync(tenant, oldDelivered, Ct));
        Assert.Empty(await Stores.Notifications.GetAttemptsAsync(tenant, oldDelivered, Ct));
        Assert.NotNull(await Stores.Notifications.GetAsync(tenant, oldQueued, Ct));
        Assert.NotNull(await Stores.Notifications.GetAsync(tenant, youngDelivered, Ct));
        Assert.NotNull(await Stores.Notifications.GetAsync(other, otherTenants, Ct));
        Assert.Equal(new PurgedRows(0, 0, 0), await Stores.Retention.PurgeAsync(tenant, Cutoff, Cutoff, 100, Ct));
    }

    [Fact]
    public async Task Purge_WorksInBatchesOfTheGivenSize()
    {
        var tenant = await NewTenantAsync();
        for (var i = 0; i < 5; i++)
        {
            await AcceptAsync(tenant, T0, NotificationStatus.Failed);
        }

        var batches = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            batches.Add((await Stores.Retention.PurgeAsync(tenant, Cutoff, Cutoff, 2, Ct)).Notifications);
        }

        Assert.Equal([2, 2, 1, 0], batches);
    }

    [Fact]
    public async Task Purge_KeepsANotificationWhoseIdempotencyKeyIsInsideItsWindow()
    {
        var tenant = await NewTenantAsync();
        var keyed = await AcceptAsync(tenant, T0, NotificationStatus.Delivered, dedupeKey: "order-1");

        // The tenant's retention has passed, the key's window has not.
        Assert.Equal(0, (await Stores.Retention.PurgeAsync(tenant, Cutoff, T0.AddMinutes(-1), 100, Ct)).Notifications);
        Assert.NotNull(await Stores.Notifications.GetAsync(tenant, keyed, Ct));

        Assert.Equal(1, (await Stores.Retention.PurgeAsync(tenant, Cutoff, Cutoff, 100, Ct)).Notifications);
    }

    [Fact]
    public async Task Purge_TakesFinishedWebhookDeliveries_NeverPendingOnes()
    {
        var tenant = await NewTenantAsync();
        var endpoint = await Stores.Webhooks.CreateEndpointAsync(
            new WebhookEndpoint(NextId(T0), tenant, "https://bank.example/hooks", "enc:v1:test:c2VjcmV0", [], true, null, T0, T0), Ct);
        await AcceptAsync(tenant, T0, NotificationStatus.Delivered);
        Assert.Equal(1, await Stores.Webhooks.FanOutAsync(100, T0, Ct));
        var delivery = Assert.Single(await Stores.Webhooks.ListDeliveriesAsync(tenant, new(), Ct));
        Assert.Equal(endpoint.Id, delivery.EndpointId);
        // Delivery ids may come from the database's clock: a cutoff far ahead covers them whatever it reads.
        var farAhead = TimeProvider.System.GetUtcNow().AddYears(10);

        Assert.Equal(0, (await Stores.Retention.PurgeAsync(tenant, farAhead, farAhead, 100, Ct)).WebhookDeliveries);
        await Stores.Webhooks.CompleteDeliveriesAsync([new(delivery.Id, WebhookDeliveryState.Succeeded, null, 200, null)], T0, Ct);
        Assert.Equal(1, (await Stores.Retention.PurgeAsync(tenant, farAhead, farAhead, 100, Ct)).WebhookDeliveries);
        Assert.Empty(await Stores.Webhooks.ListDeliveriesAsync(tenant, new(), Ct));
    }

    [Fact]
    public void FirstIdAt_IsBelowEveryIdOfThatMillisecondAndAboveEveryEarlierOne()
    {
        var at = T0.AddMilliseconds(123);
        var first = RetentionPolicy.FirstIdAt(at);

        for (var i = 0; i < 100; i++)
        {
            Assert.True(Guid.CreateVersion7(at).CompareTo(first) > 0);
            Assert.True(Guid.CreateVersion7(at.AddMilliseconds(-1)).CompareTo(first) < 0);
        }

        Assert.True(string.CompareOrdinal(Guid.CreateVersion7(at).ToString("D"), first.ToString("D")) > 0);
    }

    /// <summary>A notification created at <paramref name="at"/> (its id and created_at), moved to <paramref name="status"/>.</summary>
    private async Task<Guid> AcceptAsync(Guid tenant, DateTimeOffset at, NotificationStatus status, string? dedupeKey = null)
    {
        var route = new Route(Priority.Normal, [new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30))]);
        var request = new NewNotification(tenant, null, "card.transaction", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, dedupeKey);
        var id = Assert.Single(await Stores.Notifications.AcceptAsync([new PreparedNotification(NextId(at), request, route)], at, Ct)).Id;
        if (status != NotificationStatus.Accepted)
        {
            var queue = status.IsFinal() ? QueueAction.Remove : QueueAction.At(at);
            var applied = await Stores.Delivery.ApplyAsync([new DeliveryUpdate(id, 0, new Transition(status, DeliveryProgress.Start, null, queue), [])], at, Ct);
            Assert.True(Assert.Single(applied.Applied));
        }

        return id;
    }

    private Attempt Attempt(Guid notificationId) => new()
    {
        Id = NextId(T0),
        NotificationId = notificationId,
        Step = 0,
        Channel = Channel.WhatsApp,
        State = AttemptState.Delivered,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private Guid NextId(DateTimeOffset at) => Guid.CreateVersion7(at.AddMilliseconds(Interlocked.Increment(ref _tick)));

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;
}

public sealed class PostgresRetentionStoreComplianceTests(PostgresFixture server) : RetentionStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteRetentionStoreComplianceTests : RetentionStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
