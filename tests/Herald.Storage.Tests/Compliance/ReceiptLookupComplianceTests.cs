using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// The batched receipt lookup (<see cref="IDeliveryStore.FindByProviderMessageIdsAsync"/>): for every id it answers
/// exactly what the single lookup answers, in one call. Every backend runs it unchanged, reusing
/// <see cref="IStoreTestBackend"/>.
/// </summary>
public abstract class ReceiptLookupComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private int _idTick;

    [Fact]
    public async Task FindByProviderMessageIdsAsync_AnswersEachIdLikeTheSingleLookup_UnknownIdsAbsent()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        var sent = await AcceptOneAsync(tenant);
        var begun = await AcceptOneAsync(tenant);
        var foreign = await AcceptOneAsync(other);
        var sentAttempt = NewAttempt(sent, AttemptState.Sent) with { ProviderMessageId = "wamid-1", SentAt = T0 };
        await Stores.Delivery.ApplyAsync([Update(sent, 0, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)), sentAttempt)], T0, Ct);
        var begunAttempt = NewAttempt(begun, AttemptState.Sending) with { ProviderMessageId = "wamid-2" };
        await Stores.Delivery.BeginAttemptsAsync([begunAttempt], Ct);
        var foreignAttempt = NewAttempt(foreign, AttemptState.Sent) with { ProviderMessageId = "wamid-3", SentAt = T0 };
        await Stores.Delivery.ApplyAsync([Update(foreign, 0, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)), foreignAttempt)], T0, Ct);

        var found = await Stores.Delivery.FindByProviderMessageIdsAsync(Provider, ["wamid-1", "wamid-2", "wamid-3", "wamid-unknown", "wamid-1"], Ct);

        Assert.Equal(["wamid-1", "wamid-2", "wamid-3"], found.Keys.Order(StringComparer.Ordinal));
        foreach (var id in found.Keys)
        {
            var single = await Stores.Delivery.FindByProviderMessageIdAsync(Provider, id, Ct);
            Assert.NotNull(single);
            Assert.Equal(single.Value.Attempt, found[id].Attempt);
            Assert.Equal(single.Value.Notification.Id, found[id].Notification.Id);
            Assert.Equal(single.Value.Notification.Version, found[id].Notification.Version);
            Assert.Equal(single.Value.Notification.TenantId, found[id].Notification.TenantId);
        }

        Assert.Equal(sentAttempt, found["wamid-1"].Attempt);
        Assert.Equal(1, found["wamid-1"].Notification.Version);
        Assert.Equal(begunAttempt, found["wamid-2"].Attempt);
        Assert.Equal(other, found["wamid-3"].Notification.TenantId);
        Assert.Empty(await Stores.Delivery.FindByProviderMessageIdsAsync(Provider, [], Ct));
        Assert.Empty(await Stores.Delivery.FindByProviderMessageIdsAsync(Provider, ["nobody"], Ct));
    }

    [Fact]
    public async Task FindByProviderMessageIdsAsync_IdReusedByTwoAttempts_ReturnsTheNewest()
    {
        var tenant = await NewTenantAsync();
        var first = await AcceptOneAsync(tenant);
        var second = await AcceptOneAsync(tenant);
        var older = NewAttempt(first, AttemptState.Sending) with { ProviderMessageId = "reused" };
        var newer = NewAttempt(second, AttemptState.Sending) with { ProviderMessageId = "reused", CreatedAt = T0.AddSeconds(5), UpdatedAt = T0.AddSeconds(5) };
        await Stores.Delivery.BeginAttemptsAsync([older, newer], Ct);

        var found = await Stores.Delivery.FindByProviderMessageIdsAsync(Provider, ["reused"], Ct);

        Assert.Equal(newer, Assert.Single(found).Value.Attempt);
        Assert.Equal(second, found["reused"].Notification.Id);
        Assert.Equal(newer, (await Stores.Delivery.FindByProviderMessageIdAsync(Provider, "reused", Ct))!.Value.Attempt);
    }

    private Guid NextId() => Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _idTick)));

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    private async Task<Guid> AcceptOneAsync(Guid tenant)
    {
        var route = new Route(Priority.Normal, [new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30))]);
        var prepared = new PreparedNotification(
            NextId(), new NewNotification(tenant, null, "account.balance", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null), route);
        return Assert.Single(await Stores.Notifications.AcceptAsync([prepared], T0, Ct)).Id;
    }

    private static readonly Guid Provider = new("0190a000-0000-7000-8000-00000000000b");

    private Attempt NewAttempt(Guid notificationId, AttemptState state) => new()
    {
        Id = NextId(),
        NotificationId = notificationId,
        Step = 0,
        Channel = Channel.WhatsApp,
        ProviderId = Provider,
        ProviderName = "sandbox-whatsapp",
        State = state,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private static DeliveryUpdate Update(Guid id, int expectedVersion, NotificationStatus status, QueueAction queue, params Attempt[] attempts) =>
        new(id, expectedVersion, new Transition(status, DeliveryProgress.Start, null, queue), attempts);
}

public sealed class PostgresReceiptLookupComplianceTests(PostgresFixture server) : ReceiptLookupComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteReceiptLookupComplianceTests : ReceiptLookupComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
