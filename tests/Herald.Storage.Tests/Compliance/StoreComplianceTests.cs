using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Storage.Tests;

/// <summary>
/// The one store compliance suite: the contracts of Contracts.cs, written against the interfaces only. Every
/// backend runs it unchanged: derive from this class and supply a fresh, empty, not yet migrated database per
/// test through <see cref="CreateBackendAsync"/>.
/// </summary>
public abstract class StoreComplianceTests : IAsyncLifetime
{
    /// <summary>A millisecond-aligned clock start: stores keep times to the millisecond.</summary>
    protected static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private static readonly TimeSpan LongLease = TimeSpan.FromMinutes(10);

    /// <summary>How long a wake-up may take before a test calls it lost; far below any maxWait the tests pass.</summary>
    private static readonly TimeSpan WakeDeadline = TimeSpan.FromSeconds(20);

    private int _idTick;

    protected IStoreTestBackend Backend { get; private set; } = null!;
    protected StoreSet Stores { get; private set; } = null!;
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A fresh, empty, not yet migrated database that no other test uses.</summary>
    protected abstract Task<IStoreTestBackend> CreateBackendAsync();

    public async ValueTask InitializeAsync()
    {
        Backend = await CreateBackendAsync();
        Stores = Backend.Open();
        await Stores.Migrator.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await Stores.DisposeAsync();
        await Backend.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    // ---- idempotency window ----

    [Fact]
    public async Task ReleaseDedupeKeysAsync_OldKeysOnly_LetTheKeyBeUsedAgain()
    {
        var tenant = await NewTenantAsync();
        var old = await AcceptOneAsync(tenant, dedupeKey: "k-old", externalId: "x-old", now: T0);
        var young = await AcceptOneAsync(tenant, dedupeKey: "k-young", now: T0.AddDays(6));
        await AcceptOneAsync(tenant, now: T0);

        Assert.Equal(1, await Stores.Notifications.ReleaseDedupeKeysAsync(T0.AddDays(1), 100, Ct));
        Assert.Equal(0, await Stores.Notifications.ReleaseDedupeKeysAsync(T0.AddDays(1), 100, Ct));

        var again = await Stores.Notifications.AcceptAsync([Prepare(tenant, NextId(), dedupeKey: "k-old")], T0.AddDays(8), Ct);
        Assert.True(Assert.Single(again).Created);
        Assert.NotEqual(old, again[0].Id);
        var repeat = await Stores.Notifications.AcceptAsync([Prepare(tenant, NextId(), dedupeKey: "k-young")], T0.AddDays(8), Ct);
        Assert.Equal((young, false), (Assert.Single(repeat).Id, repeat[0].Created));
        Assert.Equal("x-old", (await Stores.Notifications.GetAsync(tenant, old, Ct))!.ExternalId);
    }

    [Fact]
    public async Task ReleaseDedupeKeysAsync_HonoursMax()
    {
        var tenant = await NewTenantAsync();
        for (var i = 0; i < 5; i++)
        {
            await AcceptOneAsync(tenant, dedupeKey: $"k-{i}", now: T0);
        }

        Assert.Equal(3, await Stores.Notifications.ReleaseDedupeKeysAsync(T0.AddDays(1), 3, Ct));
        Assert.Equal(2, await Stores.Notifications.ReleaseDedupeKeysAsync(T0.AddDays(1), 3, Ct));
    }

    // ---- migrations and health ----

    [Fact]
    public async Task MigrateAsync_Twice_IsNoOpAndNothingPending()
    {
        await Stores.Migrator.MigrateAsync(Ct);
        await Stores.Migrator.MigrateAsync(Ct);

        Assert.Empty(await Stores.Migrator.PendingAsync(Ct));
    }

    [Fact]
    public async Task IsReadyAsync_MigratedStore_ReturnsTrue()
    {
        Assert.True(await Stores.Health.IsReadyAsync(Ct));
    }

    // ---- tenants, keys, providers ----

    [Fact]
    public async Task CreateTenantAsync_ThenGetAndList_RoundTrips()
    {
        var a = await Stores.Tenants.CreateTenantAsync("Bank A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("Bank B", Ct);

        // The returned tenant is what was stored, creation time included (to the millisecond).
        Assert.Equal(a, await Stores.Tenants.GetTenantAsync(a.Id, Ct));
        Assert.Equal(0, a.CreatedAt.Ticks % TimeSpan.TicksPerMillisecond);
        Assert.Null(await Stores.Tenants.GetTenantAsync(Guid.NewGuid(), Ct));
        var all = await Stores.Tenants.ListTenantsAsync(Ct);
        Assert.Equal(new[] { a.Id, b.Id }.Order(), all.Select(t => t.Id).Order());
    }

    [Fact]
    public async Task FindApiKeyAsync_ByHash_ReturnsKeyWithRolesAndScope()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        var source = Guid.NewGuid();
        var hash = SHA256.HashData(Guid.NewGuid().ToByteArray());
        var created = await Stores.Tenants.CreateApiKeyAsync(tenant.Id, source, [Roles.Send, Roles.Read], hash, "hk_abc", Ct);

        var found = await Stores.Tenants.FindApiKeyAsync(hash, Ct);

        Assert.NotNull(found);
        Assert.Equal(created.Id, found.Id);
        Assert.Equal(tenant.Id, found.TenantId);
        Assert.Equal(source, found.SourceId);
        Assert.Equal([Roles.Send, Roles.Read], found.Roles);
        Assert.Equal(hash, found.KeyHash);
        Assert.Equal("hk_abc", found.Prefix);
        Assert.Equal(created.CreatedAt, found.CreatedAt);
        Assert.Null(found.RevokedAt);
        Assert.Null(await Stores.Tenants.FindApiKeyAsync(SHA256.HashData([1, 2, 3]), Ct));
    }

    [Fact]
    public async Task ProviderStore_ListAndListEnabled_FilterByTenantAndEnabledOldestFirst()
    {
        var a = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("B", Ct);
        var wa = new ProviderAccount(Guid.NewGuid(), a.Id, Channel.WhatsApp, "whatsapp-cloud", "WA main", """{"phoneNumberId":"1","nested":{"x":[1,2]}}""", 10, true, T0);
        var sms = new ProviderAccount(Guid.NewGuid(), a.Id, Channel.Sms, "sms-rest", "SMS off", "{}", 1, false, T0.AddSeconds(1)) { RatePerSecond = 12.5 };
        var tg = new ProviderAccount(Guid.NewGuid(), b.Id, Channel.Telegram, "telegram-bot", "Bot", "{}", 5, true, T0.AddSeconds(2));
        foreach (var account in new[] { wa, sms, tg })
        {
            Assert.Equal(account, await Stores.Providers.CreateAsync(account, Ct));
        }

        var listA = await Stores.Providers.ListAsync(a.Id, Ct);
        Assert.Equal([wa.Id, sms.Id], listA.Select(p => p.Id));
        // Settings come back as equivalent JSON, not necessarily the same text.
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(wa.Settings), JsonNode.Parse(listA[0].Settings)));
        Assert.Equal(wa, listA[0] with { Settings = wa.Settings });
        Assert.Equal(sms, listA[1] with { Settings = sms.Settings });
        Assert.Equal([tg.Id], (await Stores.Providers.ListAsync(b.Id, Ct)).Select(p => p.Id));
        var enabled = await Stores.Providers.ListEnabledAsync(Ct);
        Assert.Equal(new[] { wa.Id, tg.Id }.Order(), enabled.Select(p => p.Id).Order());
        Assert.All(enabled, p => Assert.True(p.Enabled));
    }

    // ---- accept, get, dedupe, isolation ----

    [Fact]
    public async Task AcceptAsync_ThenGet_RoundTripsEveryField()
    {
        var tenant = await NewTenantAsync();
        var source = Guid.NewGuid();
        var route = new Route(Priority.High, [
            new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30)),
            new RouteStep(Channel.Telegram, WaitFor.Sent, TimeSpan.FromMilliseconds(1500)),
            new RouteStep(Channel.Email, WaitFor.Sent, TimeSpan.FromMinutes(1)),
        ]);
        var contacts = new Contacts("+4915112345678", "12345", "a@example.com", "push-token", "de");
        var data = """{"amount":12.5,"currency":"EUR","merchant":"Café","nested":{"a":[1,2]}}""";
        var request = new NewNotification(
            tenant, source, "card.transaction", "cust-1", contacts, data, Priority.Low, [Channel.Sms], T0.AddHours(1), "ext-1", "idem-1");
        var id = NextId();

        var results = await Stores.Notifications.AcceptAsync([new PreparedNotification(id, request, route)], T0, Ct);

        Assert.Equal([new AcceptResult(id, true, NotificationStatus.Accepted)], results);
        var n = await Stores.Notifications.GetAsync(tenant, id, Ct);
        Assert.NotNull(n);
        Assert.Equal(id, n.Id);
        Assert.Equal(tenant, n.TenantId);
        Assert.Equal(source, n.SourceId);
        Assert.Equal("card.transaction", n.Type);
        Assert.Equal("cust-1", n.CustomerId);
        Assert.Equal(contacts, n.Contacts);
        // Data comes back as equivalent JSON, not necessarily the same text.
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(data), JsonNode.Parse(n.DataJson)));
        Assert.Equal(Priority.High, n.Priority); // the route's priority, not the request's
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
        Assert.Empty(await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
        Assert.Equal(new long[] { 0, 1, 0, 0 }, await Stores.Delivery.QueueDepthAsync(Ct));
        Assert.Equal(T0, await Stores.Delivery.NextDueAsync(Ct));
    }

    [Fact]
    public async Task AcceptAsync_MinimalNotification_RoundTripsNulls()
    {
        var tenant = await NewTenantAsync();
        var id = NextId();
        var request = new NewNotification(tenant, null, "service.news", null, Contacts.None, "{}", null, null, null, null, null);

        await Stores.Notifications.AcceptAsync([new PreparedNotification(id, request, Plan(Priority.Low))], T0, Ct);

        var n = await Stores.Notifications.GetAsync(tenant, id, Ct);
        Assert.NotNull(n);
        Assert.Null(n.SourceId);
        Assert.Null(n.CustomerId);
        Assert.Equal(Contacts.None, n.Contacts);
        Assert.Equal("{}", n.DataJson);
        Assert.Null(n.ExpiresAt);
        Assert.Null(n.ExternalId);
    }

    [Fact]
    public async Task AcceptAsync_SubMillisecondTimes_StoredTruncatedToTheMillisecond()
    {
        var tenant = await NewTenantAsync();
        var id = NextId();
        var now = T0.AddTicks(12_345); // 1.2345 ms
        var request = new NewNotification(tenant, null, "otp", null, Contacts.None, "{}", null, null, T0.AddHours(1).AddTicks(9_999), null, null);

        await Stores.Notifications.AcceptAsync([new PreparedNotification(id, request, Plan(Priority.Critical))], now, Ct);

        var n = await Stores.Notifications.GetAsync(tenant, id, Ct);
        Assert.NotNull(n);
        Assert.Equal(T0.AddMilliseconds(1), n.CreatedAt);
        Assert.Equal(T0.AddMilliseconds(1), n.UpdatedAt);
        Assert.Equal(T0.AddHours(1), n.ExpiresAt);
        Assert.Equal(T0.AddMilliseconds(1), await Stores.Delivery.NextDueAsync(Ct));
        // Query bounds are truncated the same way, so the notification is found from its own (untruncated) time.
        Assert.Single(await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(CreatedFrom: now), Ct));
    }

    [Fact]
    public async Task AcceptAsync_UnknownTenant_IsStoredWithoutCheck()
    {
        var unknown = Guid.NewGuid();
        var id = NextId();

        var results = await Stores.Notifications.AcceptAsync([Prepare(unknown, id)], T0, Ct);

        Assert.Equal([new AcceptResult(id, true, NotificationStatus.Accepted)], results);
        Assert.NotNull(await Stores.Notifications.GetAsync(unknown, id, Ct));
    }

    [Fact]
    public async Task AcceptAsync_ItemFails_WholeBatchRolledBack()
    {
        var tenant = await NewTenantAsync();
        var (a, b) = (NextId(), NextId());

        // The repeated id violates the primary key on the third item.
        await Assert.ThrowsAnyAsync<Exception>(() => Stores.Notifications.AcceptAsync([Prepare(tenant, a), Prepare(tenant, b), Prepare(tenant, a)], T0, Ct));

        Assert.Null(await Stores.Notifications.GetAsync(tenant, a, Ct));
        Assert.Null(await Stores.Notifications.GetAsync(tenant, b, Ct));
        Assert.Equal(new long[4], await Stores.Delivery.QueueDepthAsync(Ct));
        var retry = await Stores.Notifications.AcceptAsync([Prepare(tenant, a), Prepare(tenant, b)], T0, Ct);
        Assert.All(retry, r => Assert.True(r.Created));
    }

    [Fact]
    public async Task AcceptAsync_DuplicateKeyInLaterCall_ReturnsOriginalAndStoresNothing()
    {
        var tenant = await NewTenantAsync();
        var first = await AcceptOneAsync(tenant, dedupeKey: "k1");
        await Stores.Delivery.ApplyAsync([Update(first, 0, NotificationStatus.Routed, QueueAction.At(T0))], T0, Ct);

        var againId = NextId();
        var freshId = NextId();
        var again = await Stores.Notifications.AcceptAsync([Prepare(tenant, againId, dedupeKey: "k1"), Prepare(tenant, freshId)], T0, Ct);

        Assert.Equal([new AcceptResult(first, false, NotificationStatus.Routed), new AcceptResult(freshId, true, NotificationStatus.Accepted)], again);
        Assert.Null(await Stores.Notifications.GetAsync(tenant, againId, Ct));
        Assert.Equal(2, (await Stores.Delivery.QueueDepthAsync(Ct)).Sum());
    }

    [Fact]
    public async Task AcceptAsync_DuplicateOfFinishedNotification_ReturnsItsCurrentStatus()
    {
        var tenant = await NewTenantAsync();
        var first = await AcceptOneAsync(tenant, dedupeKey: "k");
        await Stores.Delivery.ApplyAsync([Update(first, 0, NotificationStatus.Cancelled, QueueAction.Remove)], T0, Ct);

        var result = await Stores.Notifications.AcceptAsync([Prepare(tenant, NextId(), dedupeKey: "k")], T0, Ct);

        Assert.Equal([new AcceptResult(first, false, NotificationStatus.Cancelled)], result);
        Assert.Equal(0, (await Stores.Delivery.QueueDepthAsync(Ct)).Sum());
    }

    [Fact]
    public async Task AcceptAsync_DuplicateKeyWithinCall_ResolvesToFirstItem()
    {
        var tenant = await NewTenantAsync();
        var (a, b, c, d) = (NextId(), NextId(), NextId(), NextId());

        var results = await Stores.Notifications.AcceptAsync(
            [Prepare(tenant, a, dedupeKey: "x"), Prepare(tenant, b, dedupeKey: "y"), Prepare(tenant, c, dedupeKey: "x"), Prepare(tenant, d)],
            T0,
            Ct);

        Assert.Equal(
            [
                new AcceptResult(a, true, NotificationStatus.Accepted),
                new AcceptResult(b, true, NotificationStatus.Accepted),
                new AcceptResult(a, false, NotificationStatus.Accepted),
                new AcceptResult(d, true, NotificationStatus.Accepted),
            ],
            results);
        Assert.Null(await Stores.Notifications.GetAsync(tenant, c, Ct));
        Assert.Equal(3, (await Stores.Delivery.QueueDepthAsync(Ct)).Sum());
    }

    [Fact]
    public async Task AcceptAsync_KeyRepeatedWithAnotherRequestHash_IsAMismatch_WithinACallAndAcrossCalls()
    {
        var tenant = await NewTenantAsync();
        byte[] h1 = [1, 2, 3], h2 = [9, 9, 9];
        var (a, b, c) = (NextId(), NextId(), NextId());

        var first = await Stores.Notifications.AcceptAsync(
            [Prepare(tenant, a, dedupeKey: "k") with { RequestHash = h1 }, Prepare(tenant, b, dedupeKey: "k") with { RequestHash = h2 }], T0, Ct);
        var later = await Stores.Notifications.AcceptAsync(
            [
                Prepare(tenant, c, dedupeKey: "k") with { RequestHash = [1, 2, 3] },
                Prepare(tenant, NextId(), dedupeKey: "k") with { RequestHash = h2 },
                Prepare(tenant, NextId(), dedupeKey: "k"),
            ],
            T0,
            Ct);

        Assert.Equal([(a, true, false), (a, false, true)], first.Select(r => (r.Id, r.Created, r.Mismatch)));
        // The same fingerprint is a true repeat; an unknown one (null) is never a mismatch.
        Assert.Equal([(a, false, false), (a, false, true), (a, false, false)], later.Select(r => (r.Id, r.Created, r.Mismatch)));
    }

    [Fact]
    public async Task AcceptAsync_SameKeyOtherTenant_IsCreated()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        var c = await NewTenantAsync();
        await AcceptOneAsync(a, dedupeKey: "shared");
        var (idB, idC) = (NextId(), NextId());

        var results = await Stores.Notifications.AcceptAsync([Prepare(b, idB, dedupeKey: "shared"), Prepare(c, idC, dedupeKey: "shared")], T0, Ct);

        Assert.Equal([new AcceptResult(idB, true, NotificationStatus.Accepted), new AcceptResult(idC, true, NotificationStatus.Accepted)], results);
    }

    [Fact]
    public async Task GetAsync_OtherTenant_SeesNothing()
    {
        var owner = await NewTenantAsync();
        var other = await NewTenantAsync();
        var id = await AcceptOneAsync(owner);
        await Stores.Delivery.BeginAttemptsAsync([NewAttempt(id, AttemptState.Sending)], Ct);

        Assert.Null(await Stores.Notifications.GetAsync(other, id, Ct));
        Assert.Empty(await Stores.Notifications.GetAttemptsAsync(other, id, Ct));
        Assert.Empty(await Stores.Notifications.SearchAsync(other, new NotificationQuery(), Ct));
        Assert.NotNull(await Stores.Notifications.GetAsync(owner, id, Ct));
        Assert.Single(await Stores.Notifications.GetAttemptsAsync(owner, id, Ct));
        Assert.Single(await Stores.Notifications.SearchAsync(owner, new NotificationQuery(), Ct));
    }

    // ---- search ----

    [Fact]
    public async Task SearchAsync_Filters_MatchOnlyTheirNotifications()
    {
        var tenant = await NewTenantAsync();
        var otp = await AcceptOneAsync(tenant, type: "otp", customerId: "c1", externalId: "e1", now: T0);
        var card = await AcceptOneAsync(tenant, type: "card.transaction", customerId: "c2", externalId: "e2", now: T0.AddMinutes(1));
        var news = await AcceptOneAsync(tenant, type: "service.news", customerId: "c1", now: T0.AddMinutes(2));
        await Stores.Delivery.ApplyAsync([Update(card, 0, NotificationStatus.Delivered, QueueAction.Remove)], T0, Ct);

        Assert.Equal([news, card, otp], await SearchIdsAsync(tenant, new NotificationQuery()));
        Assert.Equal([card], await SearchIdsAsync(tenant, new NotificationQuery(Status: NotificationStatus.Delivered)));
        Assert.Equal([news, otp], await SearchIdsAsync(tenant, new NotificationQuery(Status: NotificationStatus.Accepted)));
        Assert.Equal([otp], await SearchIdsAsync(tenant, new NotificationQuery(Type: "otp")));
        Assert.Equal([card], await SearchIdsAsync(tenant, new NotificationQuery(ExternalId: "e2")));
        Assert.Equal([news, otp], await SearchIdsAsync(tenant, new NotificationQuery(CustomerId: "c1")));
        Assert.Equal([news, card], await SearchIdsAsync(tenant, new NotificationQuery(CreatedFrom: T0.AddMinutes(1))));
        Assert.Equal([card, otp], await SearchIdsAsync(tenant, new NotificationQuery(CreatedTo: T0.AddMinutes(1).AddMilliseconds(1))));
        Assert.Empty(await SearchIdsAsync(tenant, new NotificationQuery(Type: "otp", CustomerId: "c2")));
    }

    [Fact]
    public async Task SearchAsync_CreatedRange_FromInclusiveToExclusive()
    {
        var tenant = await NewTenantAsync();
        var before = await AcceptOneAsync(tenant, now: T0.AddMilliseconds(-1));
        var at = await AcceptOneAsync(tenant, now: T0);
        var after = await AcceptOneAsync(tenant, now: T0.AddMilliseconds(1));

        Assert.Equal([after, at], await SearchIdsAsync(tenant, new NotificationQuery(CreatedFrom: T0)));
        Assert.Equal([before], await SearchIdsAsync(tenant, new NotificationQuery(CreatedTo: T0)));
        Assert.Equal([at], await SearchIdsAsync(tenant, new NotificationQuery(CreatedFrom: T0, CreatedTo: T0.AddMilliseconds(1))));
        Assert.Empty(await SearchIdsAsync(tenant, new NotificationQuery(CreatedFrom: T0, CreatedTo: T0)));
    }

    [Fact]
    public async Task SearchAsync_KeysetPaging_WalksNewestFirstWithoutGapsOrRepeats()
    {
        var tenant = await NewTenantAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 23; i++)
        {
            ids.Add(await AcceptOneAsync(tenant, now: T0.AddSeconds(i)));
        }

        var seen = new List<Guid>();
        Guid? before = null;
        while (true)
        {
            var page = await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(Before: before, Limit: 5), Ct);
            if (page.Count == 0)
            {
                break;
            }

            Assert.True(page.Count <= 5);
            seen.AddRange(page.Select(n => n.Id));
            before = page[^1].Id;
        }

        ids.Reverse();
        Assert.Equal(ids, seen);
    }

    [Fact]
    public async Task SearchAsync_OneBatchSameCreatedAt_FiltersAndPagesNewestIdFirst()
    {
        var tenant = await NewTenantAsync();
        var items = Enumerable.Range(0, 7)
            .Select(i => Prepare(tenant, NextId(), type: i % 2 == 0 ? "otp" : "service.news", customerId: i < 3 ? "c-a" : "c-b", externalId: $"e-{i}"))
            .ToList();
        await Stores.Notifications.AcceptAsync(items, T0, Ct);
        var later = Prepare(tenant, NextId(), type: "otp");
        await Stores.Notifications.AcceptAsync([later], T0.AddHours(1), Ct);
        var newestFirst = items.Select(i => i.Id).Append(later.Id).Reverse().ToList();

        var page1 = await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(Limit: 3), Ct);
        var page2 = await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(Before: page1[^1].Id, Limit: 3), Ct);
        var page3 = await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(Before: page2[^1].Id, Limit: 3), Ct);

        Assert.Equal(newestFirst, page1.Concat(page2).Concat(page3).Select(n => n.Id));
        Assert.Equal(2, page3.Count);
        Assert.Equal(5, (await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(Type: "otp"), Ct)).Count);
        Assert.Equal(3, (await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(CustomerId: "c-a"), Ct)).Count);
        Assert.Equal(items[4].Id, Assert.Single(await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(ExternalId: "e-4"), Ct)).Id);
        Assert.Equal(later.Id, Assert.Single(await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(CreatedFrom: T0.AddMinutes(30)), Ct)).Id);
        Assert.Equal(7, (await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(CreatedTo: T0.AddMinutes(30)), Ct)).Count);
        Assert.Empty(await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(Status: NotificationStatus.Delivered), Ct));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(-5, 1)]
    [InlineData(3, 3)]
    [InlineData(10_000, 500)]
    public async Task SearchAsync_Limit_ClampedTo1Through500(int limit, int expected)
    {
        var tenant = await NewTenantAsync();
        await Stores.Notifications.AcceptAsync(Enumerable.Range(0, 501).Select(_ => Prepare(tenant, NextId())).ToList(), T0, Ct);

        var page = await Stores.Notifications.SearchAsync(tenant, new NotificationQuery(Limit: limit), Ct);

        Assert.Equal(expected, page.Count);
    }

    // ---- claim ----

    [Fact]
    public async Task ClaimAsync_MixedLanes_StrictPriorityThenOldestDue()
    {
        var tenant = await NewTenantAsync();
        var low = await AcceptOneAsync(tenant, Priority.Low, now: T0);
        var normal = await AcceptOneAsync(tenant, Priority.Normal, now: T0.AddSeconds(1));
        var criticalLate = await AcceptOneAsync(tenant, Priority.Critical, now: T0.AddSeconds(3));
        var criticalEarly = await AcceptOneAsync(tenant, Priority.Critical, now: T0.AddSeconds(2));
        var high = await AcceptOneAsync(tenant, Priority.High, now: T0.AddSeconds(4));

        var first = await Stores.Delivery.ClaimAsync(3, LongLease, T0.AddMinutes(1), Ct);
        var rest = await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddMinutes(1), Ct);

        Assert.Equal([criticalEarly, criticalLate, high], first.Select(c => c.Notification.Id));
        Assert.Equal([normal, low], rest.Select(c => c.Notification.Id));
        Assert.All(first.Concat(rest), c => Assert.Empty(c.InFlightAttempts));
        AssertSameNotification((await Stores.Notifications.GetAsync(tenant, criticalEarly, Ct))!, first[0].Notification);
    }

    [Fact]
    public async Task ClaimAsync_LowestLaneBound_ClaimsOnlyLanesUpToIt()
    {
        var tenant = await NewTenantAsync();
        var low = await AcceptOneAsync(tenant, Priority.Low, now: T0);
        var high = await AcceptOneAsync(tenant, Priority.High, now: T0);
        var critical = await AcceptOneAsync(tenant, Priority.Critical, now: T0.AddSeconds(1));

        var criticalOnly = await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddMinutes(1), Priority.Critical, Ct);
        var nothingLeft = await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddMinutes(1), Priority.Critical, Ct);
        var upToHigh = await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddMinutes(1), Priority.High, Ct);
        var rest = await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddMinutes(1), Ct);

        Assert.Equal([critical], criticalOnly.Select(c => c.Notification.Id));
        Assert.Empty(nothingLeft);
        Assert.Equal([high], upToHigh.Select(c => c.Notification.Id));
        Assert.Equal([low], rest.Select(c => c.Notification.Id));
    }

    [Fact]
    public async Task ClaimAsync_HigherLaneNotDue_DueLowerLaneClaimed()
    {
        var tenant = await NewTenantAsync();
        await AcceptOneAsync(tenant, Priority.Critical, now: T0.AddMinutes(5));
        var due = await AcceptOneAsync(tenant, Priority.Low, now: T0);

        var claimed = await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddMinutes(1), Ct);

        Assert.Equal([due], claimed.Select(c => c.Notification.Id));
    }

    [Fact]
    public async Task ClaimAsync_EntryNotDueYet_IsNotClaimedUntilDue()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant, Priority.Critical);
        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Routed, QueueAction.At(T0.AddSeconds(30)))], T0, Ct);

        Assert.Empty(await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddSeconds(29), Ct));
        Assert.Equal(T0.AddSeconds(30), await Stores.Delivery.NextDueAsync(Ct));
        var claimed = await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddSeconds(30), Ct);
        Assert.Equal([id], claimed.Select(c => c.Notification.Id));
    }

    [Fact]
    public async Task ClaimAsync_LeaseExpires_EntryClaimableAgain()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var lease = TimeSpan.FromSeconds(30);

        var first = await Stores.Delivery.ClaimAsync(10, lease, T0, Ct);
        var during = await Stores.Delivery.ClaimAsync(10, lease, T0.AddSeconds(29), Ct);
        var nextDue = await Stores.Delivery.NextDueAsync(Ct);
        var after = await Stores.Delivery.ClaimAsync(10, lease, T0.AddSeconds(30), Ct);

        Assert.Equal([id], first.Select(c => c.Notification.Id));
        Assert.Empty(during);
        Assert.Equal(T0 + lease, nextDue);
        Assert.Equal([id], after.Select(c => c.Notification.Id));
    }

    [Fact]
    public async Task ClaimAsync_ConcurrentClaimers_GetDisjointCompleteSets()
    {
        var tenant = await NewTenantAsync();
        var items = Enumerable.Range(0, 2000)
            .Select(i => Prepare(tenant, NextId(), priority: (Priority)(i % 4)))
            .ToList();
        await Stores.Notifications.AcceptAsync(items, T0, Ct);
        var claimed = new ConcurrentBag<Guid>();

        var claimers = Enumerable.Range(0, 4).Select(_ => Task.Run(
            async () =>
            {
                while (true)
                {
                    var batch = await Stores.Delivery.ClaimAsync(37, LongLease, T0, Ct);
                    if (batch.Count == 0)
                    {
                        return;
                    }

                    foreach (var c in batch)
                    {
                        claimed.Add(c.Notification.Id);
                    }
                }
            },
            Ct));
        await Task.WhenAll(claimers);

        Assert.Equal(2000, claimed.Count);
        Assert.Equal(items.Select(i => i.Id).Order(), claimed.Order());
    }

    [Fact]
    public async Task ClaimAsync_AfterLeaseWithAttemptsLeftSending_ReturnsThemAsInFlight()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        Assert.Single(await Stores.Delivery.ClaimAsync(1, LongLease, T0, Ct));
        var sending = NewAttempt(id, AttemptState.Sending);
        var failed = NewAttempt(id, AttemptState.Failed) with { FailureKind = "transient", ErrorCode = "503", Error = "unavailable" };
        await Stores.Delivery.BeginAttemptsAsync([failed, sending], Ct);

        // The worker crashed: its lease runs out and another worker takes over.
        var retaken = Assert.Single(await Stores.Delivery.ClaimAsync(1, LongLease, T0 + LongLease, Ct));

        Assert.Equal([sending], retaken.InFlightAttempts);
    }

    // ---- apply ----

    [Fact]
    public async Task ApplyAsync_StaleVersion_NotAppliedAndChangesNothing()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var fresh = Update(id, 0, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)), NewAttempt(id, AttemptState.Sent) with { ProviderMessageId = "pm-1" });
        Assert.Equal([true], (await Stores.Delivery.ApplyAsync([fresh], T0, Ct)).Applied);
        var afterFirst = await Stores.Notifications.GetAsync(tenant, id, Ct);

        var stale = Update(id, 0, NotificationStatus.Delivered, QueueAction.Remove, NewAttempt(id, AttemptState.Delivered));
        var result = await Stores.Delivery.ApplyAsync([stale], T0.AddSeconds(1), Ct);

        Assert.Equal([false], result.Applied);
        Assert.NotNull(afterFirst);
        Assert.Equal(1, afterFirst.Version);
        Assert.Equal(NotificationStatus.Sending, afterFirst.Status);
        AssertSameNotification(afterFirst, (await Stores.Notifications.GetAsync(tenant, id, Ct))!);
        Assert.Single(await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
        Assert.Equal(T0.AddSeconds(30), await Stores.Delivery.NextDueAsync(Ct));
    }

    [Fact]
    public async Task ApplyAsync_StaleUpdateAfterAppliedOneInSameCall_NotApplied()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var first = Update(id, 0, NotificationStatus.Routed, QueueAction.At(T0.AddSeconds(5)));
        var stale = Update(id, 0, NotificationStatus.Delivered, QueueAction.Remove) with
        {
            Attempts = [NewAttempt(id, AttemptState.Delivered) with { ProviderMessageId = "wamid.stale" }],
        };

        var applied = await Stores.Delivery.ApplyAsync([first, stale], T0.AddSeconds(1), Ct);

        Assert.Equal([true, false], applied.Applied);
        var n = await Stores.Notifications.GetAsync(tenant, id, Ct);
        Assert.NotNull(n);
        Assert.Equal(NotificationStatus.Routed, n.Status);
        Assert.Equal(1, n.Version);
        Assert.Equal(T0.AddSeconds(1), n.UpdatedAt);
        Assert.Empty(await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
        Assert.Null(await Stores.Delivery.FindByProviderMessageIdAsync(ReceiptProvider, "wamid.stale", Ct));
        Assert.Equal(T0.AddSeconds(5), await Stores.Delivery.NextDueAsync(Ct));
    }

    [Fact]
    public async Task ApplyAsync_MixedBatch_ReportsAppliedInInputOrder()
    {
        var tenant = await NewTenantAsync();
        var a = await AcceptOneAsync(tenant);
        var b = await AcceptOneAsync(tenant);

        var result = await Stores.Delivery.ApplyAsync(
            [Update(a, 0, NotificationStatus.Routed, QueueAction.At(T0)), Update(b, 5, NotificationStatus.Routed, QueueAction.At(T0))], T0, Ct);

        Assert.Equal([true, false], result.Applied);
    }

    [Fact]
    public async Task ApplyAsync_SameNotificationTwiceInOneCall_AppliesInOrder()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var first = Update(id, 0, NotificationStatus.Routed, QueueAction.At(T0.AddSeconds(5)));
        var second = Update(id, 1, NotificationStatus.Delivered, QueueAction.Remove);

        var result = await Stores.Delivery.ApplyAsync([first, second], T0, Ct);

        Assert.Equal([true, true], result.Applied);
        var stored = await Stores.Notifications.GetAsync(tenant, id, Ct);
        Assert.Equal(NotificationStatus.Delivered, stored!.Status);
        Assert.Equal(2, stored.Version);
        Assert.Null(await Stores.Delivery.NextDueAsync(Ct));
    }

    [Fact]
    public async Task ApplyAsync_TransitionFields_Stored()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var awaited = Guid.NewGuid();
        var transition = new Transition(NotificationStatus.Sending, new DeliveryProgress(1, 2, awaited), null, QueueAction.At(T0.AddSeconds(30)));
        await Stores.Delivery.ApplyAsync([new DeliveryUpdate(id, 0, transition, [])], T0, Ct);
        Assert.Equal(new DeliveryProgress(1, 2, awaited), (await Stores.Notifications.GetAsync(tenant, id, Ct))!.Progress);
        var done = new Transition(NotificationStatus.Delivered, new DeliveryProgress(1, 2, null), Channel.Telegram, QueueAction.Remove);
        await Stores.Delivery.ApplyAsync([new DeliveryUpdate(id, 1, done, [])], T0, Ct);

        var n = await Stores.Notifications.GetAsync(tenant, id, Ct);

        Assert.NotNull(n);
        Assert.Equal(NotificationStatus.Delivered, n.Status);
        Assert.Equal(Channel.Telegram, n.Channel);
        Assert.Equal(new DeliveryProgress(1, 2, null), n.Progress);
        Assert.Equal(2, n.Version);
    }

    [Fact]
    public async Task ApplyAsync_QueueRemove_DeletesEntryAndStoresState()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant, Priority.High);
        var progress = new DeliveryProgress(1, 2, null);
        var update = new DeliveryUpdate(id, 0, new Transition(NotificationStatus.Delivered, progress, Channel.Sms, QueueAction.Remove), []);

        var result = await Stores.Delivery.ApplyAsync([update], T0.AddSeconds(3), Ct);

        Assert.Equal([true], result.Applied);
        Assert.Equal(new long[] { 0, 0, 0, 0 }, await Stores.Delivery.QueueDepthAsync(Ct));
        Assert.Null(await Stores.Delivery.NextDueAsync(Ct));
        Assert.Empty(await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddDays(1), Ct));
        var stored = await Stores.Notifications.GetAsync(tenant, id, Ct);
        Assert.Equal(NotificationStatus.Delivered, stored!.Status);
        Assert.Equal(Channel.Sms, stored.Channel);
        Assert.Equal(progress, stored.Progress);
        Assert.Equal(T0.AddSeconds(3), stored.UpdatedAt);
        Assert.Equal(T0, stored.CreatedAt);
    }

    [Fact]
    public async Task ApplyAsync_RescheduleClaimedEntry_MovesDueTimeKeepingLane()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant, Priority.High);
        Assert.Single(await Stores.Delivery.ClaimAsync(1, LongLease, T0, Ct));
        var awaited = NextId();
        var update = new DeliveryUpdate(id, 0,
            new Transition(NotificationStatus.Sending, new DeliveryProgress(0, 0, awaited), null, QueueAction.At(T0.AddSeconds(30))),
            [NewAttempt(id, AttemptState.Sent) with { Id = awaited, ProviderMessageId = "pm-1" }]);

        await Stores.Delivery.ApplyAsync([update], T0, Ct);

        Assert.Equal(T0.AddSeconds(30), await Stores.Delivery.NextDueAsync(Ct));
        Assert.Equal(new long[] { 0, 1, 0, 0 }, await Stores.Delivery.QueueDepthAsync(Ct));
        Assert.Empty(await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddSeconds(29), Ct));
        var claimed = Assert.Single(await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddSeconds(30), Ct));
        Assert.Equal(awaited, claimed.Notification.Progress.AwaitedAttemptId);
        Assert.Empty(claimed.InFlightAttempts);
    }

    [Fact]
    public async Task ApplyAsync_DueAfterRemoval_RequeuesInPriorityLane()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant, Priority.Low);
        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Sending, QueueAction.Remove)], T0, Ct);

        await Stores.Delivery.ApplyAsync([Update(id, 1, NotificationStatus.Routed, QueueAction.At(T0.AddSeconds(1)))], T0, Ct);

        Assert.Equal(new long[] { 0, 0, 0, 1 }, await Stores.Delivery.QueueDepthAsync(Ct));
        Assert.Equal(T0.AddSeconds(1), await Stores.Delivery.NextDueAsync(Ct));
    }

    [Theory]
    [InlineData(AttemptState.Delivered, AttemptState.Sent, AttemptState.Delivered)]
    [InlineData(AttemptState.Delivered, AttemptState.Sending, AttemptState.Delivered)]
    [InlineData(AttemptState.Delivered, AttemptState.Failed, AttemptState.Delivered)]
    [InlineData(AttemptState.Delivered, AttemptState.TimedOut, AttemptState.Delivered)]
    [InlineData(AttemptState.Delivered, AttemptState.Read, AttemptState.Read)]
    [InlineData(AttemptState.Read, AttemptState.Delivered, AttemptState.Read)]
    [InlineData(AttemptState.Read, AttemptState.Sent, AttemptState.Read)]
    [InlineData(AttemptState.Read, AttemptState.Failed, AttemptState.Read)]
    [InlineData(AttemptState.Sent, AttemptState.Delivered, AttemptState.Delivered)]
    [InlineData(AttemptState.Sending, AttemptState.Failed, AttemptState.Failed)]
    [InlineData(AttemptState.Sent, AttemptState.TimedOut, AttemptState.TimedOut)]
    public async Task ApplyAsync_AttemptUpdate_NeverRegressesFromDeliveredOrRead(AttemptState stored, AttemptState incoming, AttemptState expected)
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var attempt = NewAttempt(id, stored) with { ProviderMessageId = "m-1", SentAt = T0, DeliveredAt = stored >= AttemptState.Delivered ? T0.AddSeconds(1) : null };
        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Sending, QueueAction.At(T0), attempt)], T0, Ct);
        var failing = incoming is AttemptState.Failed or AttemptState.TimedOut;

        var later = attempt with
        {
            State = incoming,
            UpdatedAt = T0.AddSeconds(2),
            DeliveredAt = incoming >= AttemptState.Delivered ? T0.AddSeconds(2) : null,
            FailureKind = failing ? "permanent" : null,
            ErrorCode = failing ? "131026" : null,
            Error = failing ? "late failure" : null,
        };
        var result = await Stores.Delivery.ApplyAsync([Update(id, 1, NotificationStatus.Sending, QueueAction.At(T0), later)], T0.AddSeconds(2), Ct);

        Assert.Equal([true], result.Applied);
        var stored2 = Assert.Single(await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
        Assert.Equal(expected, stored2.State);
        Assert.Equal("m-1", stored2.ProviderMessageId);
        // A refused regression keeps the stored outcome: no error fields from the late write.
        Assert.Equal(expected == incoming ? later.Error : null, stored2.Error);
        Assert.Equal(expected == incoming ? later.ErrorCode : null, stored2.ErrorCode);
        Assert.Equal(expected == incoming ? later.FailureKind : null, stored2.FailureKind);
    }

    [Fact]
    public async Task ApplyAsync_AttemptRewritten_KeepsFirstNonNullProviderFieldsCostAndTimes()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var providerId = Guid.NewGuid();
        var begun = NewAttempt(id, AttemptState.Sending) with { ProviderId = null, ProviderName = null };
        await Stores.Delivery.BeginAttemptsAsync([begun], Ct);
        var sent = begun with
        {
            State = AttemptState.Sent, ProviderId = providerId, ProviderName = "wa-main", ProviderMessageId = "wamid.1", Cost = 0.0425m,
            SentAt = T0.AddSeconds(1), UpdatedAt = T0.AddSeconds(1),
        };
        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Sending, QueueAction.At(T0.AddMinutes(1)), sent)], T0.AddSeconds(1), Ct);

        // A later write names other provider fields, a cost and times, and an older UpdatedAt (a reordered write).
        var rewrite = sent with
        {
            State = AttemptState.Delivered, ProviderId = Guid.NewGuid(), ProviderName = "wa-other", ProviderMessageId = "wamid.2", Cost = 0.05m,
            SentAt = T0.AddSeconds(5), DeliveredAt = T0.AddSeconds(6), UpdatedAt = T0,
        };
        await Stores.Delivery.ApplyAsync([Update(id, 1, NotificationStatus.Delivered, QueueAction.Remove, rewrite)], T0.AddSeconds(6), Ct);
        // A write without them keeps the stored ones.
        var bare = begun with { State = AttemptState.Read, DeliveredAt = null, UpdatedAt = T0.AddSeconds(7) };
        await Stores.Delivery.ApplyAsync([Update(id, 2, NotificationStatus.Delivered, QueueAction.Remove, bare)], T0.AddSeconds(7), Ct);

        var stored = Assert.Single(await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
        Assert.Equal(AttemptState.Read, stored.State);
        Assert.Equal(providerId, stored.ProviderId);
        Assert.Equal("wa-main", stored.ProviderName);
        Assert.Equal("wamid.1", stored.ProviderMessageId);
        Assert.Equal(0.0425m, stored.Cost);
        Assert.Equal(T0.AddSeconds(1), stored.SentAt);
        Assert.Equal(T0.AddSeconds(6), stored.DeliveredAt);
        Assert.Equal(T0.AddSeconds(7), stored.UpdatedAt);
        Assert.Equal(T0, stored.CreatedAt);
    }

    [Fact]
    public async Task ApplyAsync_AttemptWithOlderUpdatedAt_KeepsLatestUpdatedAt()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var attempt = NewAttempt(id, AttemptState.Sent) with { UpdatedAt = T0.AddSeconds(10) };
        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Sending, QueueAction.At(T0), attempt)], T0, Ct);

        await Stores.Delivery.ApplyAsync([Update(id, 1, NotificationStatus.Sending, QueueAction.At(T0), attempt with { State = AttemptState.Delivered, UpdatedAt = T0.AddSeconds(5) })], T0, Ct);

        var stored = Assert.Single(await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
        Assert.Equal(AttemptState.Delivered, stored.State);
        Assert.Equal(T0.AddSeconds(10), stored.UpdatedAt);
    }

    [Fact]
    public async Task ApplyAsync_AttemptFields_RoundTrip()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var attempt = new Attempt
        {
            Id = NextId(),
            NotificationId = id,
            Step = 2,
            Channel = Channel.Sms,
            ProviderId = Guid.NewGuid(),
            ProviderName = "sandbox-sms",
            ProviderMessageId = "SM123",
            State = AttemptState.Failed,
            FailureKind = "permanent",
            ErrorCode = "21211",
            Error = "Invalid 'To' phone number",
            Cost = 0.0075m,
            CreatedAt = T0,
            SentAt = T0.AddMilliseconds(120),
            DeliveredAt = T0.AddMilliseconds(999),
            UpdatedAt = T0.AddSeconds(3),
        };

        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Routed, QueueAction.At(T0), attempt)], T0, Ct);

        Assert.Equal([attempt], await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
    }

    [Fact]
    public async Task ApplyAsync_PendingReceiptForWrittenAttempt_ReturnedAndRemoved()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var early = new PendingReceipt(ReceiptProvider, "wamid.1", ReceiptState.Delivered, null, null, T0.AddMilliseconds(5));
        var unrelated = new PendingReceipt(ReceiptProvider, "wamid.other", ReceiptState.Read, "x", "y", T0);
        await Stores.Delivery.SavePendingReceiptAsync(early, Ct);
        await Stores.Delivery.SavePendingReceiptAsync(unrelated, Ct);
        var attempt = NewAttempt(id, AttemptState.Sent) with { ProviderMessageId = "wamid.1" };

        var result = await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)), attempt)], T0, Ct);

        Assert.Equal([early], result.Receipts);
        Assert.Equal([unrelated], await Stores.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct));
    }

    [Fact]
    public async Task ApplyAsync_PendingReceiptOfAnotherAccount_StaysParkedAndNeverReachesTheAttempt()
    {
        // Issue #13: a receipt parked by one account (another tenant's, say) for a message id that this attempt later
        // stores must not come back with it; receipts are keyed by (account, message id).
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var foreign = new PendingReceipt(Guid.NewGuid(), "wamid.shared", ReceiptState.Delivered, null, null, T0);
        var own = new PendingReceipt(ReceiptProvider, "wamid.shared", ReceiptState.Read, null, null, T0.AddMilliseconds(1));
        await Stores.Delivery.SavePendingReceiptAsync(foreign, Ct);
        await Stores.Delivery.SavePendingReceiptAsync(own, Ct);
        var attempt = NewAttempt(id, AttemptState.Sent) with { ProviderMessageId = "wamid.shared" };

        var result = await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)), attempt)], T0, Ct);

        Assert.Equal([own], result.Receipts);
        Assert.Equal([foreign], await Stores.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct));
        Assert.Null(await Stores.Delivery.FindByProviderMessageIdAsync(foreign.ProviderId, "wamid.shared", Ct));
        Assert.Empty(await Stores.Delivery.FindByProviderMessageIdsAsync(foreign.ProviderId, ["wamid.shared"], Ct));
        Assert.Equal(attempt, (await Stores.Delivery.FindByProviderMessageIdAsync(ReceiptProvider, "wamid.shared", Ct))!.Value.Attempt);
    }

    [Fact]
    public async Task ApplyAsync_NotApplied_LeavesPendingReceiptsAndStoresNoAttempt()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var receipt = new PendingReceipt(ReceiptProvider, "wamid.2", ReceiptState.Delivered, null, null, T0);
        await Stores.Delivery.SavePendingReceiptAsync(receipt, Ct);
        var attempt = NewAttempt(id, AttemptState.Sent) with { ProviderMessageId = "wamid.2" };

        var result = await Stores.Delivery.ApplyAsync([Update(id, 7, NotificationStatus.Sending, QueueAction.At(T0), attempt)], T0, Ct);

        Assert.Equal([false], result.Applied);
        Assert.Empty(result.Receipts);
        Assert.Empty(await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
        Assert.Equal([receipt], await Stores.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct));
    }

    // ---- receipts ----

    [Fact]
    public async Task FindByProviderMessageIdAsync_AppliedAttempt_ReturnsItWithCurrentNotification()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var attempt = NewAttempt(id, AttemptState.Sent) with { ProviderMessageId = "pm-42", Cost = 0.0425m, SentAt = T0 };
        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)), attempt)], T0, Ct);

        var found = await Stores.Delivery.FindByProviderMessageIdAsync(ReceiptProvider, "pm-42", Ct);

        Assert.NotNull(found);
        Assert.Equal(id, found.Value.Notification.Id);
        Assert.Equal(1, found.Value.Notification.Version);
        Assert.Equal(attempt, found.Value.Attempt);
        Assert.Null(await Stores.Delivery.FindByProviderMessageIdAsync(ReceiptProvider, "pm-unknown", Ct));
    }

    [Fact]
    public async Task FindByProviderMessageIdAsync_BegunAttempt_ReturnsItWithNotification()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var attempt = NewAttempt(id, AttemptState.Sending) with { ProviderMessageId = "tg-77" };
        await Stores.Delivery.BeginAttemptsAsync([attempt], Ct);

        var found = await Stores.Delivery.FindByProviderMessageIdAsync(ReceiptProvider, "tg-77", Ct);

        Assert.NotNull(found);
        Assert.Equal(id, found.Value.Notification.Id);
        Assert.Equal(attempt, found.Value.Attempt);
        Assert.Null(await Stores.Delivery.FindByProviderMessageIdAsync(ReceiptProvider, "tg-78", Ct));
    }

    [Fact]
    public async Task BeginAttemptsAsync_SameAttemptTwice_KeepsTheFirst()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var attempt = NewAttempt(id, AttemptState.Sending);
        await Stores.Delivery.BeginAttemptsAsync([attempt], Ct);

        await Stores.Delivery.BeginAttemptsAsync([attempt with { ProviderName = "other", UpdatedAt = T0.AddSeconds(1) }], Ct);

        Assert.Equal([attempt], await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
    }

    [Fact]
    public async Task BeginAttemptsAsync_UnknownNotification_ThrowsAndStoresNothing()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var good = NewAttempt(id, AttemptState.Sending);
        var orphan = NewAttempt(NextId(), AttemptState.Sending);

        await Assert.ThrowsAsync<InvalidOperationException>(() => Stores.Delivery.BeginAttemptsAsync([good, orphan], Ct));

        Assert.Empty(await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
    }

    [Fact]
    public async Task TakePendingReceiptsAsync_OlderThanAndMax_OldestFirstAndRemoved()
    {
        var receipts = Enumerable.Range(0, 5)
            .Select(i => new PendingReceipt(ReceiptProvider, $"m{i}", ReceiptState.Delivered, i % 2 == 0 ? "c" : null, i % 2 == 0 ? "e" : null, T0.AddSeconds(5 - i)))
            .ToList();
        foreach (var r in receipts)
        {
            await Stores.Delivery.SavePendingReceiptAsync(r, Ct);
        }

        // Received at T0+5 (m0) .. T0+1 (m4); older than T0+5 leaves m0 out.
        var first = await Stores.Delivery.TakePendingReceiptsAsync(T0.AddSeconds(5), 3, Ct);
        var second = await Stores.Delivery.TakePendingReceiptsAsync(T0.AddSeconds(5), 3, Ct);
        var rest = await Stores.Delivery.TakePendingReceiptsAsync(T0.AddSeconds(6), 10, Ct);

        Assert.Equal([receipts[4], receipts[3], receipts[2]], first);
        Assert.Equal([receipts[1]], second);
        Assert.Equal([receipts[0]], rest);
    }

    [Fact]
    public async Task SavePendingReceiptAsync_SameIdTwice_NeverStepsBack()
    {
        await Stores.Delivery.SavePendingReceiptAsync(new PendingReceipt(ReceiptProvider, "pm", ReceiptState.Read, null, null, T0), Ct);
        await Stores.Delivery.SavePendingReceiptAsync(new PendingReceipt(ReceiptProvider, "pm", ReceiptState.Delivered, null, null, T0.AddSeconds(1)), Ct);
        await Stores.Delivery.SavePendingReceiptAsync(new PendingReceipt(ReceiptProvider, "pm2", ReceiptState.Delivered, null, null, T0), Ct);
        await Stores.Delivery.SavePendingReceiptAsync(new PendingReceipt(ReceiptProvider, "pm2", ReceiptState.Failed, "131026", "undeliverable", T0.AddSeconds(1)), Ct);

        var taken = await Stores.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct);

        Assert.Equal(new PendingReceipt(ReceiptProvider, "pm", ReceiptState.Read, null, null, T0), taken.Single(r => r.ProviderMessageId == "pm"));
        Assert.Equal(new PendingReceipt(ReceiptProvider, "pm2", ReceiptState.Delivered, null, null, T0), taken.Single(r => r.ProviderMessageId == "pm2"));
    }

    [Fact]
    public async Task SavePendingReceiptAsync_SameIdLaterEqualOrFurther_ReplacesEarlier()
    {
        await Stores.Delivery.SavePendingReceiptAsync(new PendingReceipt(ReceiptProvider, "m", ReceiptState.Sent, null, null, T0), Ct);
        var failed = new PendingReceipt(ReceiptProvider, "m", ReceiptState.Failed, "131026", "undeliverable", T0.AddSeconds(1));
        await Stores.Delivery.SavePendingReceiptAsync(failed, Ct);
        await Stores.Delivery.SavePendingReceiptAsync(new PendingReceipt(ReceiptProvider, "d", ReceiptState.Delivered, null, null, T0), Ct);
        var delivered = new PendingReceipt(ReceiptProvider, "d", ReceiptState.Delivered, null, null, T0.AddSeconds(2));
        await Stores.Delivery.SavePendingReceiptAsync(delivered, Ct);
        await Stores.Delivery.SavePendingReceiptAsync(new PendingReceipt(ReceiptProvider, "r", ReceiptState.Delivered, null, null, T0), Ct);
        var read = new PendingReceipt(ReceiptProvider, "r", ReceiptState.Read, null, null, T0.AddSeconds(3));
        await Stores.Delivery.SavePendingReceiptAsync(read, Ct);

        Assert.Equal([failed, delivered, read], await Stores.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct));
    }

    // ---- aging, depth, next due ----

    [Fact]
    public async Task PromoteAgedAsync_OldEntries_MoveOneLaneUpNeverIntoCritical()
    {
        var tenant = await NewTenantAsync();
        var low = await AcceptOneAsync(tenant, Priority.Low);
        var normal = await AcceptOneAsync(tenant, Priority.Normal);
        var high = await AcceptOneAsync(tenant, Priority.High);
        await AcceptOneAsync(tenant, Priority.Low, now: T0.AddMinutes(9)); // too young
        var age = TimeSpan.FromMinutes(5);

        var moved = await Stores.Delivery.PromoteAgedAsync(age, 100, T0.AddMinutes(10), Ct);

        Assert.Equal(2, moved);
        Assert.Equal(new long[] { 0, 2, 1, 1 }, await Stores.Delivery.QueueDepthAsync(Ct));
        // Promoted entries start aging again: nothing moves until they are old again, and high never moves.
        Assert.Equal(0, await Stores.Delivery.PromoteAgedAsync(age, 100, T0.AddMinutes(12), Ct));
        Assert.Equal(2, await Stores.Delivery.PromoteAgedAsync(age, 100, T0.AddMinutes(16), Ct));
        Assert.Equal(new long[] { 0, 3, 1, 0 }, await Stores.Delivery.QueueDepthAsync(Ct));
        Assert.Equal(1, await Stores.Delivery.PromoteAgedAsync(age, 100, T0.AddMinutes(60), Ct));
        Assert.Equal(0, await Stores.Delivery.PromoteAgedAsync(age, 100, T0.AddMinutes(90), Ct));
        Assert.Equal(new long[] { 0, 4, 0, 0 }, await Stores.Delivery.QueueDepthAsync(Ct));
        var claimed = await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddMinutes(90), Ct);
        Assert.Contains(high, claimed.Select(c => c.Notification.Id));
        Assert.Contains(low, claimed.Select(c => c.Notification.Id));
        Assert.Contains(normal, claimed.Select(c => c.Notification.Id));
    }

    [Fact]
    public async Task PromoteAgedAsync_MoreThanMax_MovesOnlyMax()
    {
        var tenant = await NewTenantAsync();
        await Stores.Notifications.AcceptAsync(
            Enumerable.Range(0, 10).Select(_ => Prepare(tenant, NextId(), priority: Priority.Low)).ToList(), T0, Ct);

        var moved = await Stores.Delivery.PromoteAgedAsync(TimeSpan.FromMinutes(1), 4, T0.AddMinutes(2), Ct);

        Assert.Equal(4, moved);
        Assert.Equal(new long[] { 0, 0, 4, 6 }, await Stores.Delivery.QueueDepthAsync(Ct));
    }

    [Fact]
    public async Task NextDueAsync_EmptyQueue_ReturnsNull()
    {
        Assert.Null(await Stores.Delivery.NextDueAsync(Ct));
        Assert.Equal(new long[] { 0, 0, 0, 0 }, await Stores.Delivery.QueueDepthAsync(Ct));
    }

    [Fact]
    public async Task NextDueAsync_SeveralLanes_ReturnsEarliest()
    {
        var tenant = await NewTenantAsync();
        await AcceptOneAsync(tenant, Priority.Critical, now: T0.AddSeconds(9));
        await AcceptOneAsync(tenant, Priority.Low, now: T0.AddSeconds(3));
        await AcceptOneAsync(tenant, Priority.High, now: T0.AddSeconds(5));

        Assert.Equal(T0.AddSeconds(3), await Stores.Delivery.NextDueAsync(Ct));
    }

    // ---- wake-up ----

    [Fact]
    public async Task WaitForWorkAsync_AcceptAsync_WakesEveryWaiter()
    {
        var tenant = await NewTenantAsync();
        var waiters = Enumerable.Range(0, 3).Select(_ => Stores.Delivery.WaitForWorkAsync(TimeSpan.FromMinutes(10), Ct)).ToList();

        // A backend may still be subscribing when the first accept commits, so keep accepting until every waiter
        // wakes; the deadline, far below maxWait, fails the test if wake-ups do not arrive.
        await PokeUntilAllCompleteAsync(waiters, () => AcceptOneAsync(tenant));
    }

    [Fact]
    public async Task WaitForWorkAsync_ApplyDueNow_WakesWaiter()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var version = 0;
        var waiter = Stores.Delivery.WaitForWorkAsync(TimeSpan.FromMinutes(10), Ct);

        // Only applies: each one makes the entry due now.
        await PokeUntilAllCompleteAsync([waiter], async () =>
        {
            var result = await Stores.Delivery.ApplyAsync([Update(id, version, NotificationStatus.Routed, QueueAction.At(T0))], T0, Ct);
            Assert.Equal([true], result.Applied);
            version++;
        });
    }

    [Fact]
    public async Task WaitForWorkAsync_NoWork_ReturnsAfterMaxWait()
    {
        // On a test clock: the wait must last maxWait of the store's clock, not return at once, and end when it passed.
        var clock = new FakeTimeProvider(T0);
        await using var stores = Backend.Open(clock);
        var maxWait = TimeSpan.FromMinutes(5);

        var wait = stores.Delivery.WaitForWorkAsync(maxWait, Ct);
        clock.Advance(maxWait - TimeSpan.FromSeconds(1));
        // Proving a negative needs a window of real time: a wait that ignored the clock (or returned at once) would
        // have ended within it.
        await Task.WhenAny(wait, Task.Delay(TimeSpan.FromMilliseconds(500), TimeProvider.System, Ct));
        Assert.False(wait.IsCompleted, "returned before maxWait passed on the store's clock");

        clock.Advance(TimeSpan.FromSeconds(1));
        await wait.WaitAsync(TimeSpan.FromSeconds(30), Ct);
    }

    [Fact]
    public async Task WaitForWorkAsync_Cancelled_Throws()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var waiter = Stores.Delivery.WaitForWorkAsync(TimeSpan.FromMinutes(10), cts.Token);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(30), Ct));
    }

    // ---- durability across restarts ----

    [Fact]
    public async Task Reopen_NewServiceProviderOnSameDatabase_DataSurvives()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant, Priority.High, dedupeKey: "survive");
        var attempt = NewAttempt(id, AttemptState.Sending) with { ProviderMessageId = "p-1" };
        await Stores.Delivery.BeginAttemptsAsync([attempt], Ct);
        await Stores.Delivery.SavePendingReceiptAsync(new PendingReceipt(ReceiptProvider, "p-2", ReceiptState.Read, null, null, T0), Ct);
        await Stores.DisposeAsync();

        Stores = Backend.Open();

        Assert.Empty(await Stores.Migrator.PendingAsync(Ct));
        Assert.NotNull(await Stores.Tenants.GetTenantAsync(tenant, Ct));
        Assert.NotNull(await Stores.Notifications.GetAsync(tenant, id, Ct));
        Assert.Equal([attempt], await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
        Assert.Equal(new long[] { 0, 1, 0, 0 }, await Stores.Delivery.QueueDepthAsync(Ct));
        var again = await Stores.Notifications.AcceptAsync([Prepare(tenant, NextId(), dedupeKey: "survive")], T0, Ct);
        Assert.Equal(id, Assert.Single(again).Id);
        var claimed = Assert.Single(await Stores.Delivery.ClaimAsync(5, LongLease, T0, Ct));
        Assert.Equal([attempt], claimed.InFlightAttempts);
        Assert.Single(await Stores.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 5, Ct));
    }

    // ---- helpers ----

    /// <summary>Time-ordered ids, one millisecond apart, so "newest first" is deterministic.</summary>
    protected Guid NextId() => Guid.CreateVersion7(T0.AddMilliseconds(Interlocked.Increment(ref _idTick)));

    protected async Task<Guid> NewTenantAsync() => (await Stores.Tenants.CreateTenantAsync($"Bank {Guid.NewGuid():N}", Ct)).Id;

    protected static Route Plan(Priority priority) =>
        new(priority, [new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30)), new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]);

    protected static PreparedNotification Prepare(
        Guid tenant, Guid id, Priority priority = Priority.Normal, string? dedupeKey = null, string type = "account.balance",
        string? customerId = null, string? externalId = null) =>
        new(
            id,
            new NewNotification(tenant, null, type, customerId, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, externalId, dedupeKey),
            Plan(priority));

    protected async Task<Guid> AcceptOneAsync(
        Guid tenant, Priority priority = Priority.Normal, string? dedupeKey = null, string type = "account.balance",
        string? customerId = null, string? externalId = null, DateTimeOffset? now = null)
    {
        var id = NextId();
        var result = await Stores.Notifications.AcceptAsync([Prepare(tenant, id, priority, dedupeKey, type, customerId, externalId)], now ?? T0, Ct);
        return Assert.Single(result).Id;
    }

    /// <summary>The provider account of <see cref="NewAttempt"/>'s attempts and of the receipts these tests park.</summary>
    protected static readonly Guid ReceiptProvider = new("0190a000-0000-7000-8000-00000000000a");

    protected Attempt NewAttempt(Guid notificationId, AttemptState state) => new()
    {
        Id = NextId(),
        NotificationId = notificationId,
        Step = 0,
        Channel = Channel.WhatsApp,
        ProviderId = ReceiptProvider,
        ProviderName = "sandbox-whatsapp",
        State = state,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    protected static DeliveryUpdate Update(Guid id, int expectedVersion, NotificationStatus status, QueueAction queue, params Attempt[] attempts) =>
        new(id, expectedVersion, new Transition(status, DeliveryProgress.Start, null, queue), attempts);

    /// <summary>Record equality, except that the route's step list is compared by content.</summary>
    protected static void AssertSameNotification(Notification expected, Notification actual)
    {
        Assert.Equal(expected.Route.Priority, actual.Route.Priority);
        Assert.Equal(expected.Route.Steps, actual.Route.Steps);
        Assert.Equal(expected, actual with { Route = expected.Route });
    }

    /// <summary>Repeats <paramref name="poke"/> until every waiter has completed, failing after <see cref="WakeDeadline"/>.</summary>
    private static async Task PokeUntilAllCompleteAsync(IReadOnlyList<Task> waiters, Func<Task> poke)
    {
        var all = Task.WhenAll(waiters);
        var elapsed = Stopwatch.StartNew();
        while (!all.IsCompleted)
        {
            Assert.True(elapsed.Elapsed < WakeDeadline, "WaitForWorkAsync was not woken.");
            await poke();
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromMilliseconds(200), Ct));
        }

        await all;
    }

    private async Task<List<Guid>> SearchIdsAsync(Guid tenant, NotificationQuery query) =>
        (await Stores.Notifications.SearchAsync(tenant, query, Ct)).Select(n => n.Id).ToList();
}
