using Herald.Core.Customers;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Core.Tests.Customers;

public sealed class CustomerPreferencesTests
{
    private static readonly TimeSpan T30 = TimeSpan.FromSeconds(30);

    private static readonly Route Default = new(Priority.Normal,
    [
        new RouteStep(Channel.WhatsApp, WaitFor.Delivered, T30),
        new RouteStep(Channel.Telegram, WaitFor.Sent, T30),
        new RouteStep(Channel.Sms, WaitFor.Sent, T30),
        new RouteStep(Channel.Email, WaitFor.Sent, T30),
    ]);

    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    private static Customer Ana(params OptOut[] optOuts) => new() { Id = "ana", OptOuts = optOuts };

    private static Channel[] Channels(Route r) => [.. r.Steps.Select(s => s.Channel)];

    [Fact]
    public void Merge_InlineWinsFieldByField_StoredFillsTheRest()
    {
        var stored = new Customer { Id = "c", Contacts = new Contacts("+4915112345678", "42", "a@example.com"), Language = "pt-BR" };

        var merged = CustomerPreferences.Merge(new Contacts(Phone: "+4915199999999"), stored);

        Assert.Equal(new Contacts("+4915199999999", "42", "a@example.com", null, "pt-BR"), merged);
        Assert.Equal("de", CustomerPreferences.Merge(new Contacts(Language: "de"), stored).Language);
    }

    [Fact]
    public void Apply_ChannelOptOut_DropsThatStepForEveryType()
    {
        var route = CustomerPreferences.Apply(Default, Ana(new OptOut(Channel.WhatsApp, null)), "card.transaction");

        Assert.Equal([Channel.Telegram, Channel.Sms, Channel.Email], Channels(route));
        Assert.Equal(Default.Priority, route.Priority);
    }

    [Fact]
    public void Apply_TypeOnChannelOptOut_DropsOnlyThatTypesStep()
    {
        var customer = Ana(new OptOut(Channel.Sms, "account.balance"));

        Assert.Equal([Channel.WhatsApp, Channel.Telegram, Channel.Email], Channels(CustomerPreferences.Apply(Default, customer, "account.balance")));
        Assert.Same(Default, CustomerPreferences.Apply(Default, customer, "card.transaction"));
    }

    [Fact]
    public void Apply_TypeOptOut_LeavesNothing()
    {
        var route = CustomerPreferences.Apply(Default, Ana(new OptOut(null, "service.news")), "service.news");

        Assert.Empty(route.Steps);
    }

    [Fact]
    public void Apply_ExemptType_IgnoresOptOutsButKeepsThePreferredChannel()
    {
        var customer = Ana(new OptOut(Channel.WhatsApp, null), new OptOut(null, "otp")) with { PreferredChannel = Channel.Sms };

        var route = CustomerPreferences.Apply(Default, customer, "otp", ignoreOptOuts: true);

        Assert.Equal([Channel.Sms, Channel.WhatsApp, Channel.Telegram, Channel.Email], Channels(route));
    }

    [Fact]
    public void Apply_PreferredChannel_MovesToTheFrontKeepingTheRestInOrder()
    {
        var route = CustomerPreferences.Apply(Default, Ana() with { PreferredChannel = Channel.Email }, "card.transaction");

        Assert.Equal([Channel.Email, Channel.WhatsApp, Channel.Telegram, Channel.Sms], Channels(route));
        Assert.Equal(T30, route.Steps[0].Timeout);
    }

    [Fact]
    public void Apply_PreferredChannelNotInPlan_ChangesNothing()
    {
        Assert.Same(Default, CustomerPreferences.Apply(Default, Ana() with { PreferredChannel = Channel.Push }, "card.transaction"));
    }

    [Fact]
    public void RuleFields_FlattenAttributesAndKnownFields()
    {
        var customer = new Customer
        {
            Id = "c-9", Language = "de", TimeZone = "Europe/Berlin", PreferredChannel = Channel.Telegram,
            Attributes = new Dictionary<string, string> { ["segment"] = "premium", ["language"] = "ignored" },
        };

        var fields = CustomerPreferences.RuleFields(customer);

        Assert.Equal("premium", fields["segment"]);
        Assert.Equal("de", fields["language"]);
        Assert.Equal("Europe/Berlin", fields["timezone"]);
        Assert.Equal("telegram", fields["preferredChannel"]);
        Assert.Equal("c-9", fields["id"]);
    }

    // ---- quiet hours ----

    [Theory]
    [InlineData("2026-11-24T22:30:00+01:00", "2026-11-25T07:00:00+01:00")] // before midnight: ends tomorrow
    [InlineData("2026-11-25T03:15:00+01:00", "2026-11-25T07:00:00+01:00")] // after midnight: ends today
    [InlineData("2026-11-24T22:00:00+01:00", "2026-11-25T07:00:00+01:00")] // the start is inside
    public void EndAfter_InsideAWindowCrossingMidnight_ReturnsItsEnd(string now, string end)
    {
        var quiet = new QuietHours(new TimeOnly(22, 0), new TimeOnly(7, 0));

        Assert.Equal(DateTimeOffset.Parse(end), quiet.EndAfter(DateTimeOffset.Parse(now), Berlin));
    }

    [Theory]
    [InlineData("2026-11-24T07:00:00+01:00")] // the end is outside
    [InlineData("2026-11-24T12:00:00+01:00")]
    [InlineData("2026-11-24T21:59:00+01:00")]
    public void EndAfter_OutsideTheWindow_ReturnsNull(string now)
    {
        Assert.Null(new QuietHours(new TimeOnly(22, 0), new TimeOnly(7, 0)).EndAfter(DateTimeOffset.Parse(now), Berlin));
    }

    [Fact]
    public void EndAfter_SameDayWindow_ReturnsTodaysEnd()
    {
        var quiet = new QuietHours(new TimeOnly(12, 0), new TimeOnly(14, 0));

        Assert.Equal(DateTimeOffset.Parse("2026-11-24T14:00:00+01:00"), quiet.EndAfter(DateTimeOffset.Parse("2026-11-24T13:00:00+01:00"), Berlin));
        Assert.Null(quiet.EndAfter(DateTimeOffset.Parse("2026-11-24T23:00:00+01:00"), Berlin));
    }

    [Fact]
    public void EndAfter_EndInTheSpringForwardGap_MovesPastTheGap()
    {
        // Berlin skips 02:00-03:00 on 2026-03-29.
        var quiet = new QuietHours(new TimeOnly(23, 0), new TimeOnly(2, 30));

        var end = quiet.EndAfter(DateTimeOffset.Parse("2026-03-29T01:00:00+01:00"), Berlin);

        Assert.Equal(DateTimeOffset.Parse("2026-03-29T03:00:00+02:00"), end);
    }

    private static Notification Make(Priority priority, QuietHoursPolicy? policy = null, string type = "card.transaction") => new()
    {
        Id = Guid.CreateVersion7(),
        TenantId = Guid.NewGuid(),
        Type = type,
        CustomerId = "ana",
        Contacts = new Contacts(Phone: "+4915112345678"),
        Priority = priority,
        Route = new Route(priority, Default.Steps) { QuietHours = policy },
        Status = NotificationStatus.Accepted,
        Progress = DeliveryProgress.Start,
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
    };

    private static readonly Customer Sleeper = new()
    {
        Id = "ana", TimeZone = "Europe/Berlin", QuietHours = new QuietHours(new TimeOnly(22, 0), new TimeOnly(7, 0)),
    };

    [Fact]
    public void HeldUntil_NormalMessageInQuietHours_WaitsUntilTheirEndThenGoes()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-24T23:30:00+01:00"));
        var n = Make(Priority.Normal);

        var until = CustomerPreferences.HeldUntil(n, Sleeper, clock.GetUtcNow());
        Assert.Equal(DateTimeOffset.Parse("2026-11-25T07:00:00+01:00"), until);

        clock.SetUtcNow(until!.Value);
        Assert.Null(CustomerPreferences.HeldUntil(n, Sleeper, clock.GetUtcNow()));
    }

    [Fact]
    public void HeldUntil_CriticalOrOverride_GoesAtOnce_AndWaitPolicyHoldsEvenCritical()
    {
        var now = DateTimeOffset.Parse("2026-11-24T23:30:00+01:00");

        Assert.Null(CustomerPreferences.HeldUntil(Make(Priority.Critical, type: "fraud.alert"), Sleeper, now));
        Assert.Null(CustomerPreferences.HeldUntil(Make(Priority.Normal, QuietHoursPolicy.Override), Sleeper, now));
        Assert.NotNull(CustomerPreferences.HeldUntil(Make(Priority.Critical, QuietHoursPolicy.Wait), Sleeper, now));
    }

    [Fact]
    public void HeldUntil_NoCustomerOrNoQuietHours_GoesAtOnce()
    {
        var now = DateTimeOffset.Parse("2026-11-24T23:30:00+01:00");

        Assert.Null(CustomerPreferences.HeldUntil(Make(Priority.Low), null, now));
        Assert.Null(CustomerPreferences.HeldUntil(Make(Priority.Low), Sleeper with { QuietHours = null }, now));
    }

    [Fact]
    public void OnQuietHours_AfterAReceiptTimeout_WaitsOnTheNextStepWithoutAnAttempt()
    {
        var awaited = Guid.NewGuid();
        var n = Make(Priority.Normal) with { Status = NotificationStatus.Sending, Progress = new DeliveryProgress(0, 0, awaited) };
        var now = DateTimeOffset.Parse("2026-11-24T23:30:00+01:00");
        var decision = DeliveryStateMachine.OnDue(n, now, _ => true);
        // Past the awaited WhatsApp step, and past Telegram (no chat id): SMS.
        Assert.Equal(2, decision.StepIndex);

        var until = DateTimeOffset.Parse("2026-11-25T07:00:00+01:00");
        var transition = DeliveryStateMachine.OnQuietHours(n, decision, until);

        Assert.Equal(NotificationStatus.Routed, transition.Status);
        Assert.Equal(new DeliveryProgress(2, 0, null), transition.Progress);
        Assert.Equal(until, transition.Queue.DueAt);

        // When it comes due again it sends on that step, not the one after.
        var later = n with { Status = transition.Status, Progress = transition.Progress };
        Assert.Equal(Channel.Sms, DeliveryStateMachine.OnDue(later, until, _ => true).Send!.Channel);
    }

    [Fact]
    public void OnQuietHours_DuringRetries_KeepsTheRetryCount()
    {
        var n = Make(Priority.Normal) with { Status = NotificationStatus.Routed, Progress = new DeliveryProgress(0, 2, null) };
        var decision = DeliveryStateMachine.OnDue(n, DateTimeOffset.UnixEpoch, _ => true);

        var transition = DeliveryStateMachine.OnQuietHours(n, decision, DateTimeOffset.UnixEpoch.AddHours(1));

        Assert.Equal(new DeliveryProgress(0, 2, null), transition.Progress);
    }
}
