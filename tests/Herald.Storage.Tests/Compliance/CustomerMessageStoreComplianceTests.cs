using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// Two-way messaging's storage (issue #16) on every backend: a notification's reply choices and reply time, what
/// customers send (stored once per vendor message, reported by the outbox in the same transaction), the SMS
/// correlation "latest open question to this number through this account", and the tenant-scoped reads.
/// </summary>
public abstract class CustomerMessageStoreComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly Guid Account = new("0190a000-0000-7000-8000-0000000000a1");
    private static readonly Guid OtherAccount = new("0190a000-0000-7000-8000-0000000000a2");
    private const string Phone = "+4915112345678";

    private static readonly NotificationAction[] ConfirmBlock = [new("confirm", "Yes, it was me"), new("block", "No, block my card")];

    private int _idTick;

    [Fact]
    public async Task Accept_ActionsAndReplyTtl_RoundTrip_AndANotificationWithoutAsksNothing()
    {
        var tenant = await NewTenantAsync();
        var asking = await AcceptAsync(tenant, ConfirmBlock, TimeSpan.FromHours(2));
        var plain = await AcceptAsync(tenant, []);

        var stored = await Stores.Notifications.GetAsync(tenant, asking, Ct);
        var other = await Stores.Notifications.GetAsync(tenant, plain, Ct);

        Assert.Equal(ConfirmBlock, stored!.Actions);
        Assert.Equal(T0.AddHours(2), stored.ReplyUntil);
        Assert.Empty(other!.Actions);
        Assert.Null(other.ReplyUntil);
    }

    [Fact]
    public async Task StoredProviderIds_AreThoseOfThatAccount()
    {
        var tenant = await NewTenantAsync();
        var n = await AcceptAsync(tenant, ConfirmBlock);
        await Stores.Messages.AddAsync([Message(tenant, "mo:abc:1", n, "confirm")], Ct);

        Assert.Equal(["mo:abc:1"], await Stores.Messages.StoredProviderIdsAsync(Account, ["mo:abc:1", "mo:abc:2"], Ct));
        Assert.Empty(await Stores.Messages.StoredProviderIdsAsync(OtherAccount, ["mo:abc:1"], Ct));
        Assert.Empty(await Stores.Messages.StoredProviderIdsAsync(Account, [], Ct));
    }

    [Fact]
    public async Task AddAsync_VendorRetry_IsStoredAndReportedOnce_EvenToAnEndpointFilteringStatuses()
    {
        var tenant = await NewTenantAsync();
        var n = await AcceptAsync(tenant, ConfirmBlock);
        await Stores.Webhooks.CreateEndpointAsync(
            new WebhookEndpoint(NextId(), tenant, "https://bank.example/hook", "enc", [NotificationStatus.Failed], true, null, T0, T0), Ct);
        var reply = Message(tenant, "wamid.in-1", n, "confirm");

        var first = await Stores.Messages.AddAsync([reply], Ct);
        var retry = await Stores.Messages.AddAsync([reply with { Id = NextId() }], Ct);

        Assert.Equal([true], first);
        Assert.Equal([false], retry);
        Assert.Equal(1, await Stores.Webhooks.FanOutAsync(100, T0, Ct));
        var claimed = Assert.Single(await Stores.Webhooks.ClaimDeliveriesAsync(10, TimeSpan.FromMinutes(1), T0, Ct));
        Assert.Equal(reply, claimed.Message);
        Assert.Equal(n, claimed.Delivery.NotificationId);
        Assert.Equal(n, claimed.Notification!.Id);
        Assert.Equal(reply, Assert.Single(await Stores.Messages.ListRepliesAsync(tenant, n, Ct)));
    }

    [Fact]
    public async Task AddAsync_UnlinkedMessage_IsReportedWithoutANotification()
    {
        var tenant = await NewTenantAsync();
        await Stores.Webhooks.CreateEndpointAsync(new WebhookEndpoint(NextId(), tenant, "https://bank.example/hook", "enc", [], true, null, T0, T0), Ct);
        var message = Message(tenant, "SM1", null, null) with { Text = "Hello?" };

        await Stores.Messages.AddAsync([message], Ct);

        Assert.Equal(1, await Stores.Webhooks.FanOutAsync(100, T0, Ct));
        var claimed = Assert.Single(await Stores.Webhooks.ClaimDeliveriesAsync(10, TimeSpan.FromMinutes(1), T0, Ct));
        Assert.Equal(message, claimed.Message);
        Assert.Null(claimed.Notification);
    }

    [Fact]
    public async Task AddAsync_TenantWithoutEndpoint_RecordsNoEvent()
    {
        var tenant = await NewTenantAsync();

        await Stores.Messages.AddAsync([Message(tenant, "SM2", null, null)], Ct);

        Assert.Equal(0, await Stores.Webhooks.FanOutAsync(100, T0, Ct));
    }

    [Fact]
    public async Task FindOpenQuestionAsync_LatestOpenQuestionToThatNumberThroughThatAccount()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        var older = await AcceptAsync(tenant, ConfirmBlock, TimeSpan.FromHours(1));
        var newer = await AcceptAsync(tenant, ConfirmBlock, TimeSpan.FromMinutes(10));
        var plain = await AcceptAsync(tenant, []);
        var foreign = await AcceptAsync(other, ConfirmBlock);
        foreach (var id in new[] { older, newer, plain, foreign })
        {
            await Stores.Delivery.BeginAttemptsAsync([Attempt(id, Account, Channel.Sms)], Ct);
        }

        Assert.Equal(newer, (await Stores.Messages.FindOpenQuestionAsync(tenant, Account, Channel.Sms, Phone, T0.AddMinutes(5), Ct))?.Id);
        // The newer question's time is over; the older one is still open.
        Assert.Equal(older, (await Stores.Messages.FindOpenQuestionAsync(tenant, Account, Channel.Sms, Phone, T0.AddMinutes(30), Ct))?.Id);
        Assert.Null(await Stores.Messages.FindOpenQuestionAsync(tenant, Account, Channel.Sms, Phone, T0.AddHours(2), Ct));
        Assert.Null(await Stores.Messages.FindOpenQuestionAsync(tenant, OtherAccount, Channel.Sms, Phone, T0, Ct));
        Assert.Null(await Stores.Messages.FindOpenQuestionAsync(tenant, Account, Channel.WhatsApp, Phone, T0, Ct));
        Assert.Null(await Stores.Messages.FindOpenQuestionAsync(tenant, Account, Channel.Sms, "+4915100000001", T0, Ct));
        Assert.Equal(foreign, (await Stores.Messages.FindOpenQuestionAsync(other, Account, Channel.Sms, Phone, T0, Ct))?.Id);
    }

    [Fact]
    public async Task ListConversationAsync_ByCustomerOrAddress_NewestFirst_KeysetPages_TenantScoped()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        var linked = Message(tenant, "m1", null, null) with { CustomerId = "ana", From = "+4915100000009" };
        var byPhone = Message(tenant, "m2", null, null);
        var byChat = Message(tenant, "m3", null, null) with { Channel = Channel.Telegram, From = "4242" };
        var stranger = Message(tenant, "m4", null, null) with { From = "+4915100000008" };
        var foreign = Message(other, "m5", null, null) with { CustomerId = "ana" };
        await Stores.Messages.AddAsync([linked, byPhone, byChat, stranger, foreign], Ct);

        var first = await Stores.Messages.ListConversationAsync(tenant, "ana", [Phone, "4242"], null, 2, Ct);
        var second = await Stores.Messages.ListConversationAsync(tenant, "ana", [Phone, "4242"], first[^1].Id, 2, Ct);

        Assert.Equal([byChat, byPhone], first);
        Assert.Equal([linked], second);
        Assert.Equal([linked], await Stores.Messages.ListConversationAsync(tenant, "ana", [], null, 50, Ct));
        Assert.Empty(await Stores.Messages.ListRepliesAsync(other, linked.Id, Ct));
    }

    private CustomerMessage Message(Guid tenant, string providerMessageId, Guid? notification, string? actionId) => new(
        NextId(), tenant, Account, Channel.WhatsApp, Phone, providerMessageId, notification, actionId, actionId is null ? "1" : "Yes, it was me",
        false, null, T0.AddSeconds(Interlocked.Increment(ref _idTick)));

    private Guid NextId() => Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _idTick)));

    private async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    private async Task<Guid> AcceptAsync(Guid tenant, NotificationAction[] actions, TimeSpan? ttl = null)
    {
        var route = new Route(Priority.Critical, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]);
        var request = new NewNotification(tenant, null, "fraud.alert", null, new Contacts(Phone: Phone), "{}", null, null, null, null, null)
        {
            Actions = actions,
            ReplyTtl = ttl,
        };
        // All accepted at T0: "latest" falls to the time-ordered id.
        return Assert.Single(await Stores.Notifications.AcceptAsync([new PreparedNotification(NextId(), request, route)], T0, Ct)).Id;
    }

    private Attempt Attempt(Guid notificationId, Guid provider, Channel channel) => new()
    {
        Id = NextId(),
        NotificationId = notificationId,
        Step = 0,
        Channel = channel,
        ProviderId = provider,
        ProviderName = "sandbox-sms",
        State = AttemptState.Sending,
        CreatedAt = T0,
        UpdatedAt = T0,
    };
}

public sealed class PostgresCustomerMessageStoreComplianceTests(PostgresFixture server) : CustomerMessageStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteCustomerMessageStoreComplianceTests : CustomerMessageStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
