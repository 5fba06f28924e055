using System.Collections.Concurrent;
using System.Security.Cryptography;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests.Sqlite;

/// <summary>
/// The store contracts (Contracts.cs), written against the interfaces only, so every backend runs the same tests:
/// a backend derives from this class and supplies <see cref="CreateBackend"/>.
/// </summary>
public abstract class StoreContractTests : IAsyncLifetime
{
    /// <summary>A millisecond-aligned clock start: stores keep times to the millisecond.</summary>
    protected static readonly DateTimeOffset T0 = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private static readonly TimeSpan LongLease = TimeSpan.FromMinutes(10);
    private int _idTick;

    protected IStoreTestBackend Backend { get; private set; } = null!;
    protected StoreSet Stores { get; private set; } = null!;
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract IStoreTestBackend CreateBackend();

    public async ValueTask InitializeAsync()
    {
        Backend = CreateBackend();
        Stores = Backend.Open();
        await Stores.Migrator.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await Stores.DisposeAsync();
        await Backend.DisposeAsync();
        GC.SuppressFinalize(this);
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

        Assert.Equal(a, await Stores.Tenants.GetTenantAsync(a.Id, Ct));
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
    public async Task ProviderStore_ListAndListEnabled_FilterByTenantAndEnabled()
    {
        var a = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("B", Ct);
        var wa = new ProviderAccount(Guid.NewGuid(), a.Id, Channel.WhatsApp, "whatsapp-cloud", "WA main", """{"phoneNumberId":"1"}""", 10, true, T0);
        var sms = new ProviderAccount(Guid.NewGuid(), a.Id, Channel.Sms, "sms-rest", "SMS off", "{}", 1, false, T0.AddSeconds(1));
        var tg = new ProviderAccount(Guid.NewGuid(), b.Id, Channel.Telegram, "telegram-bot", "Bot", "{}", 5, true, T0.AddSeconds(2));
        foreach (var account in new[] { wa, sms, tg })
        {
            await Stores.Providers.CreateAsync(account, Ct);
        }

        Assert.Equal([wa, sms], await Stores.Providers.ListAsync(a.Id, Ct));
        Assert.Equal([tg], await Stores.Providers.ListAsync(b.Id, Ct));
        var enabled = await Stores.Providers.ListEnabledAsync(Ct);
        Assert.Equal(new[] { wa.Id, tg.Id }.Order(), enabled.Select(p => p.Id).Order());
    }

    // ---- accept, get, dedupe, isolation ----

    [Fact]
    public async Task AcceptAsync_ThenGet_RoundTripsEveryField()
    {
        var tenant = await NewTenantAsync();
        var source = Guid.NewGuid();
        var route = new Route(Priority.High, [
            new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30)),
            new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromMilliseconds(1500)),
        ]);
        var contacts = new Contacts("+4915112345678", "12345", "a@example.com", "push-token", "de");
        var request = new NewNotification(
            tenant, source, "card.transaction", "cust-1", contacts, """{"amount":"12.50","currency":"EUR"}""",
            Priority.Low, [Channel.Sms], T0.AddHours(1), "ext-1", "idem-1");
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
        Assert.Equal("""{"amount":"12.50","currency":"EUR"}""", n.DataJson);
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
        Assert.Empty(await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
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
    public async Task AcceptAsync_DuplicateKeyInLaterCall_ReturnsOriginalAndStoresNothing()
    {
        var tenant = await NewTenantAsync();
        var first = await AcceptOneAsync(tenant, dedupeKey: "k1");
        await Stores.Delivery.ApplyAsync([Update(first, 0, NotificationStatus.Routed, QueueAction.At(T0))], T0, Ct);

        var againId = NextId();
        var again = await Stores.Notifications.AcceptAsync([Prepare(tenant, againId, dedupeKey: "k1")], T0, Ct);

        Assert.Equal([new AcceptResult(first, false, NotificationStatus.Routed)], again);
        Assert.Null(await Stores.Notifications.GetAsync(tenant, againId, Ct));
        Assert.Equal(1, (await Stores.Delivery.QueueDepthAsync(Ct)).Sum());
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
    public async Task AcceptAsync_SameKeyOtherTenant_IsCreated()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        await AcceptOneAsync(a, dedupeKey: "shared");
        var id = NextId();

        var results = await Stores.Notifications.AcceptAsync([Prepare(b, id, dedupeKey: "shared")], T0, Ct);

        Assert.Equal([new AcceptResult(id, true, NotificationStatus.Accepted)], results);
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
        var after = await Stores.Delivery.ClaimAsync(10, lease, T0.AddSeconds(30), Ct);

        Assert.Equal([id], first.Select(c => c.Notification.Id));
        Assert.Empty(during);
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
    public async Task ClaimAsync_AttemptsLeftSending_ReturnedAsInFlight()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var sending = NewAttempt(id, AttemptState.Sending);
        var failed = NewAttempt(id, AttemptState.Failed) with { FailureKind = "transient", ErrorCode = "503", Error = "unavailable" };
        await Stores.Delivery.BeginAttemptsAsync([failed, sending], Ct);

        var claimed = Assert.Single(await Stores.Delivery.ClaimAsync(1, LongLease, T0, Ct));

        Assert.Equal([sending], claimed.InFlightAttempts);
    }

    // ---- apply ----

    [Fact]
    public async Task ApplyAsync_StaleVersion_NotAppliedAndChangesNothing()
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
        Assert.Null(await Stores.Delivery.FindByProviderMessageIdAsync("wamid.stale", Ct));
        Assert.Equal(T0.AddSeconds(5), await Stores.Delivery.NextDueAsync(Ct));
    }

    [Fact]
    public async Task ApplyAsync_TransitionFields_Stored()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var awaited = Guid.NewGuid();
        var transition = new Transition(NotificationStatus.Sending, new DeliveryProgress(1, 2, awaited), null, QueueAction.At(T0.AddSeconds(30)));
        await Stores.Delivery.ApplyAsync([new DeliveryUpdate(id, 0, transition, [])], T0, Ct);
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
    public async Task ApplyAsync_QueueRemove_DeletesEntry()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant, Priority.High);

        var result = await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Cancelled, QueueAction.Remove)], T0, Ct);

        Assert.Equal([true], result.Applied);
        Assert.Equal(new long[] { 0, 0, 0, 0 }, await Stores.Delivery.QueueDepthAsync(Ct));
        Assert.Null(await Stores.Delivery.NextDueAsync(Ct));
        Assert.Empty(await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddDays(1), Ct));
    }

    [Fact]
    public async Task ApplyAsync_Reschedule_MovesDueTimeKeepingLane()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant, Priority.High);
        Assert.Single(await Stores.Delivery.ClaimAsync(1, LongLease, T0, Ct));

        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Routed, QueueAction.At(T0.AddSeconds(2)))], T0, Ct);

        Assert.Equal(T0.AddSeconds(2), await Stores.Delivery.NextDueAsync(Ct));
        Assert.Equal(new long[] { 0, 1, 0, 0 }, await Stores.Delivery.QueueDepthAsync(Ct));
        Assert.Empty(await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddSeconds(1), Ct));
        Assert.Single(await Stores.Delivery.ClaimAsync(10, LongLease, T0.AddSeconds(2), Ct));
    }

    [Fact]
    public async Task ApplyAsync_DueAfterRemoval_RequeuesInPriorityLane()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant, Priority.Normal);
        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Sending, QueueAction.Remove)], T0, Ct);

        await Stores.Delivery.ApplyAsync([Update(id, 1, NotificationStatus.Routed, QueueAction.At(T0))], T0, Ct);

        Assert.Equal(new long[] { 0, 0, 1, 0 }, await Stores.Delivery.QueueDepthAsync(Ct));
    }

    [Theory]
    [InlineData(AttemptState.Delivered, AttemptState.Sent, AttemptState.Delivered)]
    [InlineData(AttemptState.Delivered, AttemptState.Sending, AttemptState.Delivered)]
    [InlineData(AttemptState.Delivered, AttemptState.Failed, AttemptState.Delivered)]
    [InlineData(AttemptState.Delivered, AttemptState.TimedOut, AttemptState.Delivered)]
    [InlineData(AttemptState.Delivered, AttemptState.Read, AttemptState.Read)]
    [InlineData(AttemptState.Read, AttemptState.Delivered, AttemptState.Read)]
    [InlineData(AttemptState.Read, AttemptState.Sent, AttemptState.Read)]
    [InlineData(AttemptState.Sent, AttemptState.Delivered, AttemptState.Delivered)]
    [InlineData(AttemptState.Sending, AttemptState.Failed, AttemptState.Failed)]
    [InlineData(AttemptState.Sent, AttemptState.TimedOut, AttemptState.TimedOut)]
    public async Task ApplyAsync_AttemptUpdate_NeverRegressesFromDeliveredOrRead(AttemptState stored, AttemptState incoming, AttemptState expected)
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var attempt = NewAttempt(id, stored) with { ProviderMessageId = "m-1", SentAt = T0, DeliveredAt = stored >= AttemptState.Delivered ? T0.AddSeconds(1) : null };
        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Sending, QueueAction.At(T0), attempt)], T0, Ct);

        var later = attempt with { State = incoming, UpdatedAt = T0.AddSeconds(2), DeliveredAt = incoming >= AttemptState.Delivered ? T0.AddSeconds(2) : null };
        var result = await Stores.Delivery.ApplyAsync([Update(id, 1, NotificationStatus.Sending, QueueAction.At(T0), later)], T0.AddSeconds(2), Ct);

        Assert.Equal([true], result.Applied);
        var stored2 = Assert.Single(await Stores.Notifications.GetAttemptsAsync(tenant, id, Ct));
        Assert.Equal(expected, stored2.State);
        Assert.Equal("m-1", stored2.ProviderMessageId);
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
        var early = new PendingReceipt("wamid.1", ReceiptState.Delivered, null, null, T0.AddMilliseconds(5));
        var unrelated = new PendingReceipt("wamid.other", ReceiptState.Read, "x", "y", T0);
        await Stores.Delivery.SavePendingReceiptAsync(early, Ct);
        await Stores.Delivery.SavePendingReceiptAsync(unrelated, Ct);
        var attempt = NewAttempt(id, AttemptState.Sent) with { ProviderMessageId = "wamid.1" };

        var result = await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Sending, QueueAction.At(T0.AddSeconds(30)), attempt)], T0, Ct);

        Assert.Equal([early], result.Receipts);
        Assert.Equal([unrelated], await Stores.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct));
    }

    [Fact]
    public async Task ApplyAsync_NotApplied_LeavesPendingReceipts()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var receipt = new PendingReceipt("wamid.2", ReceiptState.Delivered, null, null, T0);
        await Stores.Delivery.SavePendingReceiptAsync(receipt, Ct);
        var attempt = NewAttempt(id, AttemptState.Sent) with { ProviderMessageId = "wamid.2" };

        var result = await Stores.Delivery.ApplyAsync([Update(id, 7, NotificationStatus.Sending, QueueAction.At(T0), attempt)], T0, Ct);

        Assert.Equal([false], result.Applied);
        Assert.Empty(result.Receipts);
        Assert.Equal([receipt], await Stores.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct));
    }

    // ---- receipts ----

    [Fact]
    public async Task FindByProviderMessageIdAsync_StoredAttempt_ReturnsItWithNotification()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        var attempt = NewAttempt(id, AttemptState.Sending) with { ProviderMessageId = "tg-77" };
        await Stores.Delivery.BeginAttemptsAsync([attempt], Ct);

        var found = await Stores.Delivery.FindByProviderMessageIdAsync("tg-77", Ct);

        Assert.NotNull(found);
        Assert.Equal(id, found.Value.Notification.Id);
        Assert.Equal(attempt, found.Value.Attempt);
        Assert.Null(await Stores.Delivery.FindByProviderMessageIdAsync("tg-78", Ct));
    }

    [Fact]
    public async Task TakePendingReceiptsAsync_OlderThanAndMax_OldestFirstAndRemoved()
    {
        var receipts = Enumerable.Range(0, 5)
            .Select(i => new PendingReceipt($"m{i}", ReceiptState.Delivered, null, null, T0.AddSeconds(5 - i)))
            .ToList();
        foreach (var r in receipts)
        {
            await Stores.Delivery.SavePendingReceiptAsync(r, Ct);
        }

        // Received at T0+5 (m0) .. T0+1 (m4); older than T0+5 leaves m0 out.
        var first = await Stores.Delivery.TakePendingReceiptsAsync(T0.AddSeconds(5), 3, Ct);
        var second = await Stores.Delivery.TakePendingReceiptsAsync(T0.AddSeconds(5), 3, Ct);
        var rest = await Stores.Delivery.TakePendingReceiptsAsync(T0.AddSeconds(6), 10, Ct);

        Assert.Equal(["m4", "m3", "m2"], first.Select(r => r.ProviderMessageId));
        Assert.Equal(["m1"], second.Select(r => r.ProviderMessageId));
        Assert.Equal([receipts[0]], rest);
    }

    [Fact]
    public async Task SavePendingReceiptAsync_SameMessageIdTwice_KeepsLatest()
    {
        await Stores.Delivery.SavePendingReceiptAsync(new PendingReceipt("m", ReceiptState.Sent, null, null, T0), Ct);
        var latest = new PendingReceipt("m", ReceiptState.Failed, "131026", "undeliverable", T0.AddSeconds(1));
        await Stores.Delivery.SavePendingReceiptAsync(latest, Ct);

        Assert.Equal([latest], await Stores.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct));
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
        Assert.Equal(0, await Stores.Delivery.PromoteAgedAsync(age, 100, T0.AddMinutes(10), Ct));
        Assert.Equal(2, await Stores.Delivery.PromoteAgedAsync(age, 100, T0.AddMinutes(30), Ct));
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
        Assert.All(waiters, w => Assert.False(w.IsCompleted));

        await AcceptOneAsync(tenant);

        // Far below maxWait: finishing at all means the accept woke them.
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(30), Ct);
    }

    [Fact]
    public async Task WaitForWorkAsync_ApplyDueNow_WakesWaiter()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant);
        await Stores.Delivery.WaitForWorkAsync(TimeSpan.FromMinutes(10), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct); // consumes the accept's signal
        var waiter = Stores.Delivery.WaitForWorkAsync(TimeSpan.FromMinutes(10), Ct);
        Assert.False(waiter.IsCompleted);

        await Stores.Delivery.ApplyAsync([Update(id, 0, NotificationStatus.Routed, QueueAction.At(T0))], T0, Ct);

        await waiter.WaitAsync(TimeSpan.FromSeconds(30), Ct);
    }

    [Fact]
    public async Task WaitForWorkAsync_NoWork_ReturnsAfterMaxWait()
    {
        await Stores.Delivery.WaitForWorkAsync(TimeSpan.FromMilliseconds(20), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
    }

    [Fact]
    public async Task WaitForWorkAsync_Cancelled_Throws()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var waiter = Stores.Delivery.WaitForWorkAsync(TimeSpan.FromMinutes(10), cts.Token);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(30), Ct));
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

    // ---- durability across restarts ----

    [Fact]
    public async Task Reopen_NewServiceProvider_DataSurvives()
    {
        var tenant = await NewTenantAsync();
        var id = await AcceptOneAsync(tenant, Priority.High, dedupeKey: "survive");
        var attempt = NewAttempt(id, AttemptState.Sending) with { ProviderMessageId = "p-1" };
        await Stores.Delivery.BeginAttemptsAsync([attempt], Ct);
        await Stores.Delivery.SavePendingReceiptAsync(new PendingReceipt("p-2", ReceiptState.Read, null, null, T0), Ct);
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

    protected Attempt NewAttempt(Guid notificationId, AttemptState state) => new()
    {
        Id = NextId(),
        NotificationId = notificationId,
        Step = 0,
        Channel = Channel.WhatsApp,
        ProviderName = "sandbox-whatsapp",
        State = state,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    protected static DeliveryUpdate Update(Guid id, int expectedVersion, NotificationStatus status, QueueAction queue, params Attempt[] attempts) =>
        new(id, expectedVersion, new Transition(status, DeliveryProgress.Start, null, queue), attempts);

    private async Task<List<Guid>> SearchIdsAsync(Guid tenant, NotificationQuery query) =>
        (await Stores.Notifications.SearchAsync(tenant, query, Ct)).Select(n => n.Id).ToList();
}
