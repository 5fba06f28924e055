using System.Text.Json.Nodes;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// The contract every storage backend must pass. A backend derives from this class and supplies a fresh, empty,
/// not yet migrated database per test through <see cref="CreateStoresAsync"/>.
/// </summary>
public abstract class StoreComplianceTests : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = new(2030, 1, 1, 12, 0, 0, TimeSpan.Zero);
    protected static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);

    private StoreSet? _stores;

    protected StoreSet S => _stores ?? throw new InvalidOperationException("Not initialised.");

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Stores over a fresh, empty database that no other test uses.</summary>
    protected abstract Task<StoreSet> CreateStoresAsync();

    public async ValueTask InitializeAsync()
    {
        _stores = await CreateStoresAsync();
        await S.Migrator.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stores is not null)
        {
            await _stores.Owner.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    // ---- helpers ----

    protected static Route DefaultRoute(Priority priority = Priority.Normal) => new(priority,
    [
        new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30)),
        new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromMinutes(2)),
    ]);

    private static int _sequence;

    /// <summary>A notification with a time-ordered id; later calls get larger ids.</summary>
    protected static PreparedNotification Item(
        Guid tenantId, Priority priority = Priority.Normal, string? dedupeKey = null, string type = "card.transaction",
        string? customerId = "c-1", string? externalId = null)
    {
        var id = Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _sequence)));
        var request = new NewNotification(
            tenantId, null, type, customerId, new Contacts(Phone: "+4915112345678"), """{"amount":12.5}""",
            priority, null, null, externalId, dedupeKey);
        return new PreparedNotification(id, request, DefaultRoute(priority));
    }

    protected async Task<Guid> TenantAsync(string name = "bank") => (await S.Tenants.CreateTenantAsync(name, Ct)).Id;

    protected async Task<Notification> AcceptOneAsync(Guid tenant, Priority priority = Priority.Normal, DateTimeOffset? now = null)
    {
        var item = Item(tenant, priority);
        var result = await S.Notifications.AcceptAsync([item], now ?? T0, Ct);
        Assert.True(result[0].Created);
        return (await S.Notifications.GetAsync(tenant, item.Id, Ct))!;
    }

    protected static Attempt NewAttempt(Guid notificationId, AttemptState state, string? providerMessageId = null, Guid? id = null) => new()
    {
        Id = id ?? Guid.CreateVersion7(T0),
        NotificationId = notificationId,
        Step = 0,
        Channel = Channel.WhatsApp,
        ProviderName = "sandbox",
        ProviderMessageId = providerMessageId,
        State = state,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    protected static DeliveryUpdate Update(Notification n, NotificationStatus status, QueueAction queue, params Attempt[] attempts) =>
        new(n.Id, n.Version, new Transition(status, n.Progress, status == NotificationStatus.Delivered ? Channel.WhatsApp : null, queue), attempts);

    protected async Task AssertDepthAsync(long critical, long high, long normal, long low) =>
        Assert.Equal(new long[] { critical, high, normal, low }, await S.Delivery.QueueDepthAsync(Ct));

    /// <summary>Record equality, except that the route's step list is compared by content.</summary>
    protected static void AssertSameNotification(Notification expected, Notification actual)
    {
        Assert.Equal(expected.Route.Priority, actual.Route.Priority);
        Assert.Equal(expected.Route.Steps, actual.Route.Steps);
        Assert.Equal(expected, actual with { Route = expected.Route });
    }

    // ---- migrations ----

    [Fact]
    public async Task Migrate_Twice_IsNoOp()
    {
        await S.Migrator.MigrateAsync(Ct);
        Assert.Empty(await S.Migrator.PendingAsync(Ct));
        Assert.True(await S.Health.IsReadyAsync(Ct));
    }

    // ---- tenants, keys, providers ----

    [Fact]
    public async Task Tenants_CreateGetList_RoundTrip()
    {
        var a = await S.Tenants.CreateTenantAsync("Bank A", Ct);
        var b = await S.Tenants.CreateTenantAsync("Bank B", Ct);
        var got = await S.Tenants.GetTenantAsync(a.Id, Ct);
        Assert.Equal("Bank A", got!.Name);
        Assert.Equal(a.CreatedAt, got.CreatedAt, TimeSpan.FromMilliseconds(1));
        Assert.Equal([a.Id, b.Id], (await S.Tenants.ListTenantsAsync(Ct)).Select(t => t.Id).Order());
        Assert.Null(await S.Tenants.GetTenantAsync(Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task FindApiKey_ByHash_ReturnsKeyWithRoles()
    {
        var tenant = await TenantAsync();
        var source = Guid.NewGuid();
        var hash = System.Security.Cryptography.SHA256.HashData("secret"u8);
        var key = await S.Tenants.CreateApiKeyAsync(tenant, source, [Roles.Send, Roles.Read], hash, "hk_abc", Ct);
        var found = await S.Tenants.FindApiKeyAsync(hash, Ct);
        Assert.NotNull(found);
        Assert.Equal(key.Id, found.Id);
        Assert.Equal(tenant, found.TenantId);
        Assert.Equal(source, found.SourceId);
        Assert.Equal([Roles.Send, Roles.Read], found.Roles);
        Assert.Equal(hash, found.KeyHash);
        Assert.Equal("hk_abc", found.Prefix);
        Assert.Null(found.RevokedAt);
        Assert.Null(await S.Tenants.FindApiKeyAsync(System.Security.Cryptography.SHA256.HashData("other"u8), Ct));
    }

    [Fact]
    public async Task Providers_ListAndListEnabled_ScopedAndFiltered()
    {
        var a = await TenantAsync("a");
        var b = await TenantAsync("b");
        var wa = await S.Providers.CreateAsync(new ProviderAccount(Guid.CreateVersion7(T0), a, Channel.WhatsApp, "whatsapp-cloud", "WA", """{"phoneNumberId":"1"}""", 10, true, T0), Ct);
        await S.Providers.CreateAsync(new ProviderAccount(Guid.CreateVersion7(T0), a, Channel.Sms, "sms-rest", "SMS", "{}", 1, false, T0), Ct);
        await S.Providers.CreateAsync(new ProviderAccount(Guid.CreateVersion7(T0), b, Channel.Telegram, "telegram-bot", "TG", "{}", 1, true, T0), Ct);

        var listA = await S.Providers.ListAsync(a, Ct);
        Assert.Equal(2, listA.Count);
        Assert.All(listA, p => Assert.Equal(a, p.TenantId));
        var stored = listA.Single(p => p.Id == wa.Id);
        Assert.Equal(Channel.WhatsApp, stored.Channel);
        Assert.Equal("whatsapp-cloud", stored.Kind);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(wa.Settings), JsonNode.Parse(stored.Settings)));
        Assert.Equal(10, stored.Weight);

        var enabled = await S.Providers.ListEnabledAsync(Ct);
        Assert.Equal(2, enabled.Count);
        Assert.All(enabled, p => Assert.True(p.Enabled));
    }

    // ---- accept and read ----

    [Fact]
    public async Task AcceptThenGet_AllFields_RoundTrip()
    {
        var tenant = await TenantAsync();
        var source = Guid.NewGuid();
        var id = Guid.CreateVersion7(T0);
        var contacts = new Contacts("+4915112345678", "12345", "a@b.test", "tok", "de");
        var route = new Route(Priority.High,
        [
            new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30)),
            new RouteStep(Channel.Telegram, WaitFor.Sent, TimeSpan.FromSeconds(5)),
            new RouteStep(Channel.Email, WaitFor.Sent, TimeSpan.FromMinutes(1)),
        ]);
        var request = new NewNotification(
            tenant, source, "card.transaction", "cust-7", contacts, """{"amount":12.5,"merchant":"Café","nested":{"a":[1,2]}}""",
            Priority.High, [Channel.WhatsApp], T0.AddHours(1), "ext-1", "dk-1");

        var results = await S.Notifications.AcceptAsync([new PreparedNotification(id, request, route)], T0, Ct);

        Assert.Equal(new AcceptResult(id, true, NotificationStatus.Accepted), Assert.Single(results));
        var n = await S.Notifications.GetAsync(tenant, id, Ct);
        Assert.NotNull(n);
        Assert.Equal(id, n.Id);
        Assert.Equal(tenant, n.TenantId);
        Assert.Equal(source, n.SourceId);
        Assert.Equal("card.transaction", n.Type);
        Assert.Equal("cust-7", n.CustomerId);
        Assert.Equal(contacts, n.Contacts);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(request.DataJson), JsonNode.Parse(n.DataJson)));
        Assert.Equal(Priority.High, n.Priority);
        Assert.Equal(T0.AddHours(1), n.ExpiresAt);
        Assert.Equal("ext-1", n.ExternalId);
        Assert.Equal(route.Priority, n.Route.Priority);
        Assert.Equal(route.Steps, n.Route.Steps);
        Assert.Equal(NotificationStatus.Accepted, n.Status);
        Assert.Null(n.Channel);
        Assert.Equal(DeliveryProgress.Start, n.Progress);
        Assert.Equal(T0, n.CreatedAt);
        Assert.Equal(T0, n.UpdatedAt);
        Assert.Equal(0, n.Version);
        Assert.Empty(await S.Notifications.GetAttemptsAsync(tenant, id, Ct));
        await AssertDepthAsync(0L, 1L, 0L, 0L);
        Assert.Equal(T0, await S.Delivery.NextDueAsync(Ct));
    }

    [Fact]
    public async Task Accept_DuplicateDedupeKeyInLaterCall_ReturnsOriginal()
    {
        var tenant = await TenantAsync();
        var first = Item(tenant, dedupeKey: "k");
        await S.Notifications.AcceptAsync([first], T0, Ct);

        var again = Item(tenant, dedupeKey: "k");
        var result = await S.Notifications.AcceptAsync([again, Item(tenant)], T0, Ct);

        Assert.Equal(new AcceptResult(first.Id, false, NotificationStatus.Accepted), result[0]);
        Assert.True(result[1].Created);
        Assert.Null(await S.Notifications.GetAsync(tenant, again.Id, Ct));
        Assert.Equal(2L, (await S.Delivery.QueueDepthAsync(Ct)).Sum());
    }

    [Fact]
    public async Task Accept_DuplicateDedupeKeyWithinCall_ResolvesToFirst()
    {
        var tenant = await TenantAsync();
        var a = Item(tenant, dedupeKey: "k");
        var b = Item(tenant, dedupeKey: "k");
        var c = Item(tenant);

        var result = await S.Notifications.AcceptAsync([a, c, b], T0, Ct);

        Assert.Equal(new AcceptResult(a.Id, true, NotificationStatus.Accepted), result[0]);
        Assert.True(result[1].Created);
        Assert.Equal(new AcceptResult(a.Id, false, NotificationStatus.Accepted), result[2]);
        Assert.Null(await S.Notifications.GetAsync(tenant, b.Id, Ct));
        Assert.Equal(2L, (await S.Delivery.QueueDepthAsync(Ct)).Sum());
    }

    [Fact]
    public async Task Accept_DuplicateOfChangedNotification_ReturnsItsCurrentStatus()
    {
        var tenant = await TenantAsync();
        var first = Item(tenant, dedupeKey: "k");
        await S.Notifications.AcceptAsync([first], T0, Ct);
        var n = (await S.Notifications.GetAsync(tenant, first.Id, Ct))!;
        await S.Delivery.ApplyAsync([Update(n, NotificationStatus.Cancelled, QueueAction.Remove)], T0, Ct);

        var result = await S.Notifications.AcceptAsync([Item(tenant, dedupeKey: "k")], T0, Ct);

        Assert.Equal(new AcceptResult(first.Id, false, NotificationStatus.Cancelled), Assert.Single(result));
    }

    [Fact]
    public async Task Accept_SameDedupeKeyInOtherTenant_CreatesBoth()
    {
        var a = await TenantAsync("a");
        var b = await TenantAsync("b");
        var result = await S.Notifications.AcceptAsync([Item(a, dedupeKey: "k"), Item(b, dedupeKey: "k")], T0, Ct);
        Assert.All(result, r => Assert.True(r.Created));
    }

    [Fact]
    public async Task GetSearchAttempts_OtherTenant_SeeNothing()
    {
        var a = await TenantAsync("a");
        var b = await TenantAsync("b");
        var n = await AcceptOneAsync(a);
        await S.Delivery.BeginAttemptsAsync([NewAttempt(n.Id, AttemptState.Sending)], Ct);

        Assert.Null(await S.Notifications.GetAsync(b, n.Id, Ct));
        Assert.Empty(await S.Notifications.SearchAsync(b, new NotificationQuery(), Ct));
        Assert.Empty(await S.Notifications.GetAttemptsAsync(b, n.Id, Ct));
        Assert.NotNull(await S.Notifications.GetAsync(a, n.Id, Ct));
        Assert.Single(await S.Notifications.SearchAsync(a, new NotificationQuery(), Ct));
        Assert.Single(await S.Notifications.GetAttemptsAsync(a, n.Id, Ct));
    }

    [Fact]
    public async Task Search_FiltersAndKeysetPaging_NewestFirst()
    {
        var tenant = await TenantAsync();
        var items = Enumerable.Range(0, 7)
            .Select(i => Item(tenant, type: i % 2 == 0 ? "otp" : "service.news", customerId: i < 3 ? "c-a" : "c-b", externalId: $"e-{i}"))
            .ToList();
        await S.Notifications.AcceptAsync(items, T0, Ct);
        var later = Item(tenant, type: "otp");
        await S.Notifications.AcceptAsync([later], T0.AddHours(1), Ct);
        var ids = items.Select(i => i.Id).Append(later.Id).ToList();
        var newestFirst = ids.OrderByDescending(id => id.ToString(), StringComparer.Ordinal).ToList();

        var page1 = await S.Notifications.SearchAsync(tenant, new NotificationQuery(Limit: 3), Ct);
        var page2 = await S.Notifications.SearchAsync(tenant, new NotificationQuery(Before: page1[^1].Id, Limit: 3), Ct);
        var page3 = await S.Notifications.SearchAsync(tenant, new NotificationQuery(Before: page2[^1].Id, Limit: 3), Ct);
        Assert.Equal(newestFirst, page1.Concat(page2).Concat(page3).Select(n => n.Id));
        Assert.Equal(2, page3.Count);

        Assert.Equal(5, (await S.Notifications.SearchAsync(tenant, new NotificationQuery(Type: "otp"), Ct)).Count);
        Assert.Equal(3, (await S.Notifications.SearchAsync(tenant, new NotificationQuery(CustomerId: "c-a"), Ct)).Count);
        Assert.Equal(items[4].Id, Assert.Single(await S.Notifications.SearchAsync(tenant, new NotificationQuery(ExternalId: "e-4"), Ct)).Id);
        Assert.Equal(later.Id, Assert.Single(await S.Notifications.SearchAsync(tenant, new NotificationQuery(CreatedFrom: T0.AddMinutes(30)), Ct)).Id);
        Assert.Equal(7, (await S.Notifications.SearchAsync(tenant, new NotificationQuery(CreatedTo: T0.AddMinutes(30)), Ct)).Count);
        Assert.Equal(8, (await S.Notifications.SearchAsync(tenant, new NotificationQuery(Status: NotificationStatus.Accepted), Ct)).Count);
        Assert.Empty(await S.Notifications.SearchAsync(tenant, new NotificationQuery(Status: NotificationStatus.Delivered), Ct));
        Assert.Single(await S.Notifications.SearchAsync(tenant, new NotificationQuery(Limit: 0), Ct));
        Assert.Equal(8, (await S.Notifications.SearchAsync(tenant, new NotificationQuery(Limit: 100_000), Ct)).Count);
    }

    // ---- claims ----

    [Fact]
    public async Task Claim_StrictPriority_HigherLanesFirstThenOldestDue()
    {
        var tenant = await TenantAsync();
        var low = await AcceptOneAsync(tenant, Priority.Low, T0);
        var normalOld = await AcceptOneAsync(tenant, Priority.Normal, T0);
        var normalNew = await AcceptOneAsync(tenant, Priority.Normal, T0.AddSeconds(1));
        var critical = await AcceptOneAsync(tenant, Priority.Critical, T0.AddSeconds(2));
        var high = await AcceptOneAsync(tenant, Priority.High, T0.AddSeconds(3));

        var first = await S.Delivery.ClaimAsync(2, Lease, T0.AddSeconds(10), Ct);
        var rest = await S.Delivery.ClaimAsync(10, Lease, T0.AddSeconds(10), Ct);

        Assert.Equal([critical.Id, high.Id], first.Select(c => c.Notification.Id));
        Assert.Equal([normalOld.Id, normalNew.Id, low.Id], rest.Select(c => c.Notification.Id));
        Assert.All(first.Concat(rest), c => Assert.Empty(c.InFlightAttempts));
        AssertSameNotification(critical, first[0].Notification);
    }

    [Fact]
    public async Task Claim_EntryNotYetDue_IsNotClaimed()
    {
        var tenant = await TenantAsync();
        await AcceptOneAsync(tenant, Priority.Critical, T0.AddMinutes(5));
        var due = await AcceptOneAsync(tenant, Priority.Low, T0);

        var claimed = await S.Delivery.ClaimAsync(10, Lease, T0.AddMinutes(1), Ct);

        Assert.Equal(due.Id, Assert.Single(claimed).Notification.Id);
    }

    [Fact]
    public async Task Claim_ClaimedEntry_NotClaimedAgainUntilLeaseEnds()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant);

        Assert.Single(await S.Delivery.ClaimAsync(10, Lease, T0, Ct));
        Assert.Empty(await S.Delivery.ClaimAsync(10, Lease, T0 + Lease - TimeSpan.FromSeconds(1), Ct));
        Assert.Equal(T0 + Lease, await S.Delivery.NextDueAsync(Ct));
        var again = await S.Delivery.ClaimAsync(10, Lease, T0 + Lease, Ct);

        Assert.Equal(n.Id, Assert.Single(again).Notification.Id);
    }

    [Fact]
    public async Task Claim_FourConcurrentClaimers_GetDisjointAndCompleteSets()
    {
        var tenant = await TenantAsync();
        var items = Enumerable.Range(0, 2000).Select(i => Item(tenant, (Priority)(i % 4))).ToList();
        await S.Notifications.AcceptAsync(items, T0, Ct);

        var claimers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var mine = new List<Guid>();
            while (true)
            {
                var batch = await S.Delivery.ClaimAsync(37, TimeSpan.FromHours(1), T0.AddSeconds(1), Ct);
                if (batch.Count == 0)
                {
                    return mine;
                }

                mine.AddRange(batch.Select(c => c.Notification.Id));
            }
        }, Ct)).ToList();
        var results = await Task.WhenAll(claimers);

        var all = results.SelectMany(r => r).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(items.Select(i => i.Id).Order(), all.Order());
    }

    [Fact]
    public async Task Claim_AfterLeaseWithAttemptStillSending_ReturnsItAsInFlight()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant);
        await S.Delivery.ClaimAsync(1, Lease, T0, Ct);
        var sending = NewAttempt(n.Id, AttemptState.Sending);
        await S.Delivery.BeginAttemptsAsync([sending], Ct);

        var retaken = Assert.Single(await S.Delivery.ClaimAsync(1, Lease, T0 + Lease, Ct));

        var inFlight = Assert.Single(retaken.InFlightAttempts);
        Assert.Equal(sending.Id, inFlight.Id);
        Assert.Equal(AttemptState.Sending, inFlight.State);
        Assert.Equal(sending, inFlight);
    }

    // ---- apply ----

    [Fact]
    public async Task Apply_StaleVersion_NotAppliedAndChangesNothing()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant);
        var fresh = Update(n, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)), NewAttempt(n.Id, AttemptState.Sent, "pm-1"));
        Assert.Equal([true], (await S.Delivery.ApplyAsync([fresh], T0, Ct)).Applied);
        var afterFirst = await S.Notifications.GetAsync(tenant, n.Id, Ct);

        var stale = Update(n, NotificationStatus.Delivered, QueueAction.Remove, NewAttempt(n.Id, AttemptState.Delivered));
        var result = await S.Delivery.ApplyAsync([stale], T0.AddSeconds(1), Ct);

        Assert.Equal([false], result.Applied);
        AssertSameNotification(afterFirst!, (await S.Notifications.GetAsync(tenant, n.Id, Ct))!);
        Assert.Single(await S.Notifications.GetAttemptsAsync(tenant, n.Id, Ct));
        Assert.Equal(T0.AddSeconds(30), await S.Delivery.NextDueAsync(Ct));
        Assert.Equal(1, afterFirst!.Version);
        Assert.Equal(NotificationStatus.Sending, afterFirst.Status);
    }

    [Fact]
    public async Task Apply_MixedBatch_ReportsAppliedInInputOrder()
    {
        var tenant = await TenantAsync();
        var a = await AcceptOneAsync(tenant);
        var b = await AcceptOneAsync(tenant);
        var staleB = b with { Version = 5 };

        var result = await S.Delivery.ApplyAsync(
            [Update(a, NotificationStatus.Routed, QueueAction.At(T0)), Update(staleB, NotificationStatus.Routed, QueueAction.At(T0))], T0, Ct);

        Assert.Equal([true, false], result.Applied);
    }

    [Fact]
    public async Task Apply_SameNotificationTwiceInOneCall_AppliesInOrder()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant);
        var first = Update(n, NotificationStatus.Routed, QueueAction.At(T0.AddSeconds(5)));
        var second = Update(n with { Version = 1 }, NotificationStatus.Delivered, QueueAction.Remove);

        var result = await S.Delivery.ApplyAsync([first, second], T0, Ct);

        Assert.Equal([true, true], result.Applied);
        var stored = await S.Notifications.GetAsync(tenant, n.Id, Ct);
        Assert.Equal(NotificationStatus.Delivered, stored!.Status);
        Assert.Equal(2, stored.Version);
        Assert.Null(await S.Delivery.NextDueAsync(Ct));
    }

    [Fact]
    public async Task Apply_Remove_DeletesQueueEntryAndStoresState()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant, Priority.High);
        var progress = new DeliveryProgress(1, 2, null);
        var update = new DeliveryUpdate(n.Id, 0, new Transition(NotificationStatus.Delivered, progress, Channel.Sms, QueueAction.Remove), []);

        var result = await S.Delivery.ApplyAsync([update], T0.AddSeconds(3), Ct);

        Assert.Equal([true], result.Applied);
        await AssertDepthAsync(0L, 0L, 0L, 0L);
        Assert.Null(await S.Delivery.NextDueAsync(Ct));
        Assert.Empty(await S.Delivery.ClaimAsync(10, Lease, T0.AddHours(1), Ct));
        var stored = await S.Notifications.GetAsync(tenant, n.Id, Ct);
        Assert.Equal(NotificationStatus.Delivered, stored!.Status);
        Assert.Equal(Channel.Sms, stored.Channel);
        Assert.Equal(progress, stored.Progress);
        Assert.Equal(T0.AddSeconds(3), stored.UpdatedAt);
        Assert.Equal(T0, stored.CreatedAt);
    }

    [Fact]
    public async Task Apply_Reschedule_MovesDueAtAndKeepsLane()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant, Priority.High);
        var awaited = Guid.CreateVersion7(T0);
        var update = new DeliveryUpdate(n.Id, 0,
            new Transition(NotificationStatus.Sending, new DeliveryProgress(0, 0, awaited), null, QueueAction.At(T0.AddSeconds(30))),
            [NewAttempt(n.Id, AttemptState.Sent, "pm-1", awaited)]);

        await S.Delivery.ApplyAsync([update], T0, Ct);

        Assert.Equal(T0.AddSeconds(30), await S.Delivery.NextDueAsync(Ct));
        await AssertDepthAsync(0L, 1L, 0L, 0L);
        Assert.Empty(await S.Delivery.ClaimAsync(10, Lease, T0.AddSeconds(29), Ct));
        var claimed = Assert.Single(await S.Delivery.ClaimAsync(10, Lease, T0.AddSeconds(30), Ct));
        Assert.Equal(awaited, claimed.Notification.Progress.AwaitedAttemptId);
        Assert.Empty(claimed.InFlightAttempts);
    }

    [Fact]
    public async Task Apply_RescheduleAfterRemove_RequeuesEntry()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant, Priority.Low);
        await S.Delivery.ApplyAsync([Update(n, NotificationStatus.Routed, QueueAction.Remove)], T0, Ct);

        await S.Delivery.ApplyAsync([Update(n with { Version = 1 }, NotificationStatus.Routed, QueueAction.At(T0.AddSeconds(1)))], T0, Ct);

        await AssertDepthAsync(0L, 0L, 0L, 1L);
        Assert.Equal(T0.AddSeconds(1), await S.Delivery.NextDueAsync(Ct));
    }

    [Fact]
    public async Task Apply_AttemptDelivered_NeverRegressesAndReadBeatsDelivered()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant);
        var attemptId = Guid.CreateVersion7(T0);
        var version = 0;
        async Task WriteAsync(AttemptState state, string? error = null)
        {
            var attempt = NewAttempt(n.Id, state, "pm-1", attemptId) with { Error = error, UpdatedAt = T0.AddSeconds(version) };
            var result = await S.Delivery.ApplyAsync([Update(n with { Version = version }, NotificationStatus.Sending, QueueAction.At(T0.AddMinutes(1)), attempt)], T0, Ct);
            Assert.True(result.Applied[0]);
            version++;
        }

        async Task<AttemptState> StateAsync() => Assert.Single(await S.Notifications.GetAttemptsAsync(tenant, n.Id, Ct)).State;

        await WriteAsync(AttemptState.Sent);
        Assert.Equal(AttemptState.Sent, await StateAsync());
        await WriteAsync(AttemptState.Delivered);
        Assert.Equal(AttemptState.Delivered, await StateAsync());
        await WriteAsync(AttemptState.Sent);
        Assert.Equal(AttemptState.Delivered, await StateAsync());
        await WriteAsync(AttemptState.Failed, "late failure");
        Assert.Equal(AttemptState.Delivered, await StateAsync());
        Assert.Null(Assert.Single(await S.Notifications.GetAttemptsAsync(tenant, n.Id, Ct)).Error);
        await WriteAsync(AttemptState.Read);
        Assert.Equal(AttemptState.Read, await StateAsync());
        await WriteAsync(AttemptState.Delivered);
        Assert.Equal(AttemptState.Read, await StateAsync());
    }

    [Fact]
    public async Task Apply_AttemptGetsProviderMessageIdWithPendingReceipt_ReturnsAndRemovesReceipt()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant);
        var receipt = new PendingReceipt("pm-early", ReceiptState.Delivered, null, null, T0);
        await S.Delivery.SavePendingReceiptAsync(receipt, Ct);
        await S.Delivery.SavePendingReceiptAsync(new PendingReceipt("pm-other", ReceiptState.Read, null, null, T0), Ct);

        var result = await S.Delivery.ApplyAsync(
            [Update(n, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)), NewAttempt(n.Id, AttemptState.Sent, "pm-early"))], T0, Ct);

        Assert.Equal(receipt, Assert.Single(result.Receipts));
        var left = await S.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct);
        Assert.Equal("pm-other", Assert.Single(left).ProviderMessageId);
    }

    [Fact]
    public async Task Apply_StaleUpdateWithPendingReceipt_LeavesReceiptPending()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant);
        await S.Delivery.SavePendingReceiptAsync(new PendingReceipt("pm-1", ReceiptState.Delivered, null, null, T0), Ct);

        var result = await S.Delivery.ApplyAsync(
            [Update(n with { Version = 9 }, NotificationStatus.Sending, QueueAction.At(T0), NewAttempt(n.Id, AttemptState.Sent, "pm-1"))], T0, Ct);

        Assert.Equal([false], result.Applied);
        Assert.Empty(result.Receipts);
        Assert.Empty(await S.Notifications.GetAttemptsAsync(tenant, n.Id, Ct));
        Assert.Single(await S.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct));
    }

    // ---- receipts ----

    [Fact]
    public async Task FindByProviderMessageId_StoredAttempt_ReturnsItWithNotification()
    {
        var tenant = await TenantAsync();
        var n = await AcceptOneAsync(tenant);
        var attempt = NewAttempt(n.Id, AttemptState.Sent, "pm-42") with { Cost = 0.0425m, SentAt = T0 };
        await S.Delivery.ApplyAsync([Update(n, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)), attempt)], T0, Ct);

        var found = await S.Delivery.FindByProviderMessageIdAsync("pm-42", Ct);

        Assert.NotNull(found);
        Assert.Equal(n.Id, found.Value.Notification.Id);
        Assert.Equal(1, found.Value.Notification.Version);
        Assert.Equal(attempt, found.Value.Attempt);
        Assert.Null(await S.Delivery.FindByProviderMessageIdAsync("pm-unknown", Ct));
    }

    [Fact]
    public async Task TakePendingReceipts_OlderThan_OldestFirstBoundedAndRemoved()
    {
        for (var i = 0; i < 5; i++)
        {
            await S.Delivery.SavePendingReceiptAsync(new PendingReceipt($"pm-{i}", ReceiptState.Delivered, "c", "e", T0.AddSeconds(10 - i)), Ct);
        }

        var taken = await S.Delivery.TakePendingReceiptsAsync(T0.AddSeconds(10), 3, Ct);

        Assert.Equal(["pm-4", "pm-3", "pm-2"], taken.Select(r => r.ProviderMessageId));
        Assert.Equal("c", taken[0].ErrorCode);
        Assert.Equal("pm-1", Assert.Single(await S.Delivery.TakePendingReceiptsAsync(T0.AddSeconds(10), 3, Ct)).ProviderMessageId);
        Assert.Equal("pm-0", Assert.Single(await S.Delivery.TakePendingReceiptsAsync(T0.AddSeconds(11), 3, Ct)).ProviderMessageId);
    }

    [Fact]
    public async Task SavePendingReceipt_SameIdTwice_KeepsTheFurthestState()
    {
        await S.Delivery.SavePendingReceiptAsync(new PendingReceipt("pm", ReceiptState.Read, null, null, T0), Ct);
        await S.Delivery.SavePendingReceiptAsync(new PendingReceipt("pm", ReceiptState.Delivered, null, null, T0.AddSeconds(1)), Ct);
        await S.Delivery.SavePendingReceiptAsync(new PendingReceipt("pm2", ReceiptState.Sent, null, null, T0), Ct);
        await S.Delivery.SavePendingReceiptAsync(new PendingReceipt("pm2", ReceiptState.Delivered, null, null, T0), Ct);

        var taken = await S.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct);

        Assert.Equal(ReceiptState.Read, taken.Single(r => r.ProviderMessageId == "pm").State);
        Assert.Equal(ReceiptState.Delivered, taken.Single(r => r.ProviderMessageId == "pm2").State);
    }

    // ---- aging ----

    [Fact]
    public async Task PromoteAged_OldEntries_MoveOneLaneUpNeverIntoCritical()
    {
        var tenant = await TenantAsync();
        await AcceptOneAsync(tenant, Priority.High, T0);
        await AcceptOneAsync(tenant, Priority.Normal, T0);
        await AcceptOneAsync(tenant, Priority.Low, T0);
        await AcceptOneAsync(tenant, Priority.Low, T0.AddMinutes(9));
        var age = TimeSpan.FromMinutes(5);

        Assert.Equal(2, await S.Delivery.PromoteAgedAsync(age, 100, T0.AddMinutes(10), Ct));
        await AssertDepthAsync(0L, 2L, 1L, 1L);

        // Promoted entries age again before moving further.
        Assert.Equal(0, await S.Delivery.PromoteAgedAsync(age, 100, T0.AddMinutes(12), Ct));
        Assert.Equal(2, await S.Delivery.PromoteAgedAsync(age, 100, T0.AddMinutes(16), Ct));
        await AssertDepthAsync(0L, 3L, 1L, 0L);
        Assert.Equal(1, await S.Delivery.PromoteAgedAsync(age, 100, T0.AddHours(1), Ct));
        Assert.Equal(0, await S.Delivery.PromoteAgedAsync(age, 100, T0.AddHours(2), Ct));
        await AssertDepthAsync(0L, 4L, 0L, 0L);
    }

    [Fact]
    public async Task PromoteAged_MoreThanMax_MovesAtMostMax()
    {
        var tenant = await TenantAsync();
        await S.Notifications.AcceptAsync([.. Enumerable.Range(0, 10).Select(_ => Item(tenant, Priority.Low))], T0, Ct);

        Assert.Equal(4, await S.Delivery.PromoteAgedAsync(TimeSpan.FromMinutes(1), 4, T0.AddMinutes(2), Ct));
        await AssertDepthAsync(0L, 0L, 4L, 6L);
    }

    // ---- wake-ups ----

    [Fact]
    public async Task WaitForWork_AcceptElsewhere_WakesBeforeMaxWait()
    {
        var tenant = await TenantAsync();
        var wait = S.Delivery.WaitForWorkAsync(TimeSpan.FromSeconds(60), Ct);

        // The waiter may still be subscribing when the first accept commits, so keep accepting until it wakes;
        // the deadline (well below maxWait) fails the test if wake-ups do not arrive.
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        while (!wait.IsCompleted)
        {
            Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(20), "WaitForWorkAsync was not woken by AcceptAsync.");
            await S.Notifications.AcceptAsync([Item(tenant)], T0, Ct);
            await Task.WhenAny(wait, Task.Delay(TimeSpan.FromMilliseconds(200), Ct));
        }

        await wait;
    }

    [Fact]
    public async Task WaitForWork_NothingHappens_ReturnsAfterMaxWait()
    {
        await S.Delivery.WaitForWorkAsync(TimeSpan.FromMilliseconds(50), Ct);
    }

    [Fact]
    public async Task NextDue_EmptyQueue_ReturnsNull()
    {
        Assert.Null(await S.Delivery.NextDueAsync(Ct));
        await AssertDepthAsync(0L, 0L, 0L, 0L);
    }
}
