using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>
/// Delivery accounting of issue #3: the parts of multi-part SMS attempts (<see cref="IAttemptPartStore"/>) and the
/// day and tenant boundaries of cost reports. Every backend runs it unchanged, reusing <see cref="IStoreTestBackend"/>.
/// </summary>
public abstract class AttemptAccountingComplianceTests : StoreSuite
{
    private static readonly DateTimeOffset T0 = new(2030, 3, 10, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task RecordAsync_StoresThePartsInOrder_AndRecordingAgainChangesNothing()
    {
        var attempt = Guid.NewGuid();
        var provider = Guid.NewGuid();

        Assert.Empty(await Stores.Parts.RecordAsync(attempt, provider, ["m-1", "m-2", "m-3"], T0, Ct));
        Assert.Empty(await Stores.Parts.RecordAsync(attempt, provider, ["x-1", "x-2", "x-3"], T0.AddSeconds(1), Ct));

        Assert.Equal(
            [
                new AttemptPart(attempt, 0, 3, provider, "m-1", ReceiptState.Sent, null, null, null),
                new AttemptPart(attempt, 1, 3, provider, "m-2", ReceiptState.Sent, null, null, null),
                new AttemptPart(attempt, 2, 3, provider, "m-3", ReceiptState.Sent, null, null, null),
            ],
            await Stores.Parts.ListAsync(attempt, Ct));
        Assert.Empty(await Stores.Parts.ListAsync(Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task ApplyReceiptAsync_PartsReceiptedOutOfOrder_DeliveredOnlyOnceEveryPartIs()
    {
        var attempt = Guid.NewGuid();
        var provider = Guid.NewGuid();
        await Stores.Parts.RecordAsync(attempt, provider, ["a-1", "a-2", "a-3"], T0, Ct);

        var third = await Stores.Parts.ApplyReceiptAsync(Delivered("a-3", T0.AddSeconds(3), provider), Ct);
        var first = await Stores.Parts.ApplyReceiptAsync(Delivered("a-1", T0.AddSeconds(4), provider), Ct);
        var second = await Stores.Parts.ApplyReceiptAsync(Delivered("a-2", T0.AddSeconds(2).AddTicks(12345), provider), Ct);

        Assert.Null(third!.Outcome());
        Assert.Null(first!.Outcome());
        Assert.True(second!.AllDelivered);
        // The whole message's receipt is for the attempt's own id, at the last part's receipt time.
        Assert.Equal(new PendingReceipt(provider, "a-1", ReceiptState.Delivered, null, null, T0.AddSeconds(4)), second.Outcome());
        var stored = await Stores.Parts.ListAsync(attempt, Ct);
        Assert.All(stored, static p => Assert.Equal(ReceiptState.Delivered, p.State));
        Assert.Equal(T0.AddSeconds(2).AddTicks(12345 - (12345 % TimeSpan.TicksPerMillisecond)), stored[1].ReceivedAt);
    }

    [Fact]
    public async Task ApplyReceiptAsync_OnePartFails_FailsTheMessageNamingThePart_AndLaterReceiptsChangeNothing()
    {
        var attempt = Guid.NewGuid();
        var provider = Guid.NewGuid();
        await Stores.Parts.RecordAsync(attempt, provider, ["f-1", "f-2", "f-3"], T0, Ct);

        var before = await Stores.Parts.ApplyReceiptAsync(Delivered("f-1", T0.AddSeconds(1), provider), Ct);
        var failed = await Stores.Parts.ApplyReceiptAsync(
            new PendingReceipt(provider, "f-2", ReceiptState.Failed, "UNDELIV:001", "SMSC receipt stat:UNDELIV err:001", T0.AddSeconds(2)), Ct);
        var after = await Stores.Parts.ApplyReceiptAsync(Delivered("f-3", T0.AddSeconds(3), provider), Ct);
        // The whole message's outcome, taken back from the pending set under the first part's id, answers the same.
        var again = await Stores.Parts.ApplyReceiptAsync(failed!.Outcome()!, Ct);

        Assert.Null(before!.Outcome());
        var expected = new PendingReceipt(provider, "f-1", ReceiptState.Failed, "UNDELIV:001", "part 2 of 3: SMSC receipt stat:UNDELIV err:001", T0.AddSeconds(2));
        Assert.Equal(expected, failed.Outcome());
        Assert.Equal(expected, after!.Outcome());
        Assert.Equal(expected, again!.Outcome());
        Assert.Equal(
            [ReceiptState.Delivered, ReceiptState.Failed, ReceiptState.Sent],
            (await Stores.Parts.ListAsync(attempt, Ct)).Select(static p => p.State));
    }

    [Fact]
    public async Task ApplyReceiptAsync_UnknownIdOrAnotherProvidersPart_IsNotAPart()
    {
        var provider = Guid.NewGuid();
        await Stores.Parts.RecordAsync(Guid.NewGuid(), provider, ["p-1", "p-2"], T0, Ct);

        Assert.Null(await Stores.Parts.ApplyReceiptAsync(Delivered("nope", T0, provider), Ct));
        Assert.Null(await Stores.Parts.ApplyReceiptAsync(Delivered("p-2", T0, Guid.NewGuid()), Ct));
        Assert.NotNull(await Stores.Parts.ApplyReceiptAsync(Delivered("p-2", T0, provider), Ct));
    }

    [Fact]
    public async Task RecordAsync_TakesBackReceiptsThatArrivedBeforeTheParts()
    {
        var provider = Guid.NewGuid();
        var otherAccount = Guid.NewGuid();
        await Stores.Delivery.SavePendingReceiptAsync(Delivered("e-2", T0.AddSeconds(1), provider), Ct);
        await Stores.Delivery.SavePendingReceiptAsync(Delivered("unrelated", T0.AddSeconds(1), provider), Ct);
        // Another account's receipt for the same message id is not this attempt's (issue #13).
        await Stores.Delivery.SavePendingReceiptAsync(Delivered("e-1", T0.AddSeconds(1), otherAccount), Ct);

        var early = await Stores.Parts.RecordAsync(Guid.NewGuid(), provider, ["e-1", "e-2"], T0.AddSeconds(2), Ct);

        Assert.Equal([Delivered("e-2", T0.AddSeconds(1), provider)], early);
        var left = await Stores.Delivery.TakePendingReceiptsAsync(T0.AddDays(1), 10, Ct);
        Assert.Equal([("e-1", otherAccount), ("unrelated", provider)], left.Select(static r => (r.ProviderMessageId, r.ProviderId)).Order());
    }

    [Fact]
    public async Task ApplyReceiptAsync_EveryPartAtOnce_ExactlyOneSeesTheMessageDelivered()
    {
        var attempt = Guid.NewGuid();
        var provider = Guid.NewGuid();
        var ids = Enumerable.Range(1, 8).Select(static i => $"c-{i}").ToArray();
        await Stores.Parts.RecordAsync(attempt, provider, ids, T0, Ct);

        var results = await Task.WhenAll(ids.Select(id => Task.Run(() => Stores.Parts.ApplyReceiptAsync(Delivered(id, T0.AddSeconds(1), provider), Ct))));

        Assert.Single(results, static r => r!.Outcome() is { State: ReceiptState.Delivered });
        Assert.All(await Stores.Parts.ListAsync(attempt, Ct), static p => Assert.Equal(ReceiptState.Delivered, p.State));
    }

    [Fact]
    public async Task GetCostsAsync_DayAndTenantBoundaries_AreExact()
    {
        var a = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("B", Ct);
        var eur = new PriceTable("EUR", new Dictionary<string, decimal> { ["*"] = 0.05m });
        var smsA = await Stores.Providers.CreateAsync(Account(a.Id) with { Prices = eur }, Ct);
        var smsB = await Stores.Providers.CreateAsync(Account(b.Id) with { Prices = eur }, Ct);
        var ms = TimeSpan.FromMilliseconds(1);
        var d1 = T0.AddDays(1);
        var d2 = T0.AddDays(2);

        await AttemptAsync(a.Id, smsA, T0 - ms, 1m);          // before the window
        await AttemptAsync(a.Id, smsA, T0, 0.01m);            // first instant: in, day 0
        await AttemptAsync(a.Id, smsA, d1 - ms, 0.02m);       // last instant of day 0
        await AttemptAsync(a.Id, smsA, d1, 0.04m);            // first instant of day 1
        await AttemptAsync(a.Id, smsA, d2, 2m);               // the window's end: out
        await AttemptAsync(b.Id, smsB, T0.AddHours(12), 5m);  // another tenant, inside the window

        var day0 = DateOnly.FromDateTime(T0.UtcDateTime);
        Assert.Equal(
            [new CostTotal(null, null, null, day0, "EUR", 2, 0.03m), new CostTotal(null, null, null, day0.AddDays(1), "EUR", 1, 0.04m)],
            await Stores.Providers.GetCostsAsync(new CostQuery(a.Id, T0, d2, CostGrouping.Day), Ct));
        // A window that is not day-aligned counts by the instant, and still groups by UTC day.
        Assert.Equal(
            [new CostTotal(null, null, null, day0, "EUR", 1, 0.02m), new CostTotal(null, null, null, day0.AddDays(1), "EUR", 1, 0.04m)],
            await Stores.Providers.GetCostsAsync(new CostQuery(a.Id, T0.AddHours(12), d1 + ms, CostGrouping.Day), Ct));
        Assert.Equal(
            [new CostTotal(null, null, null, null, "EUR", 1, 5m)],
            await Stores.Providers.GetCostsAsync(new CostQuery(b.Id, T0 - ms, d2 + ms, CostGrouping.None), Ct));
        Assert.Equal(
            [new CostTotal(null, null, null, null, "EUR", 5, 3.07m)],
            await Stores.Providers.GetCostsAsync(new CostQuery(a.Id, T0 - ms, d2 + ms, CostGrouping.None), Ct));
    }

    private static PendingReceipt Delivered(string id, DateTimeOffset at, Guid provider) => new(provider, id, ReceiptState.Delivered, null, null, at);

    private async Task AttemptAsync(Guid tenant, ProviderAccount provider, DateTimeOffset at, decimal cost)
    {
        var id = Guid.CreateVersion7(at);
        var request = new NewNotification(tenant, null, "otp", null, new Contacts(Phone: "+4915100000000"), "{}", null, null, null, null, null);
        await Stores.Notifications.AcceptAsync(
            [new PreparedNotification(id, request, new Route(Priority.Normal, [new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30))]))], at, Ct);
        await Stores.Delivery.BeginAttemptsAsync(
            [new Attempt
            {
                Id = Guid.CreateVersion7(at), NotificationId = id, Step = 0, Channel = Channel.Sms, ProviderId = provider.Id,
                ProviderName = provider.Name, State = AttemptState.Sent, Cost = cost, CreatedAt = at, UpdatedAt = at,
            }],
            Ct);
    }

    private static ProviderAccount Account(Guid tenant) =>
        new(Guid.NewGuid(), tenant, Channel.Sms, "smpp", "sms", """{"host":"127.0.0.1","port":2775}""", 10, true, T0);
}

public sealed class PostgresAttemptAccountingComplianceTests(PostgresFixture server) : AttemptAccountingComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteAttemptAccountingComplianceTests : AttemptAccountingComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
