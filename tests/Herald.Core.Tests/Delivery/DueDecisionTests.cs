using Herald.Core.Customers;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Core.Tests.Delivery;

/// <summary>The worker's decision for a due notification (issue #15), pure: state machine, digest, quiet hours, throttle.</summary>
public sealed class DueDecisionTests
{
    private static readonly RetryPolicy Retry = new(3, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(15), TimeSpan.FromHours(1));

    private static readonly Route SmsThenEmail = new(Priority.Normal,
    [
        new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30)),
        new RouteStep(Channel.Email, WaitFor.Sent, TimeSpan.FromSeconds(30)),
    ]);

    /// <summary>Quiet hours 22:00–07:00 in UTC, so the fake clock's hour is the customer's.</summary>
    private static readonly Customer Sleeper = new() { Id = "c", TimeZone = "Etc/UTC", QuietHours = new QuietHours(new TimeOnly(22, 0), new TimeOnly(7, 0)) };

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    private Notification Make(Route? route = null, Contacts? contacts = null, DateTimeOffset? expiresAt = null, DeliveryProgress? progress = null) => new()
    {
        Id = Guid.CreateVersion7(_time.GetUtcNow()),
        TenantId = Guid.NewGuid(),
        Type = "balance.update",
        CustomerId = "c",
        Contacts = contacts ?? new Contacts(Phone: "+4915112345678", Email: "c@example.test"),
        Priority = Priority.Normal,
        ExpiresAt = expiresAt,
        Route = route ?? SmsThenEmail,
        Status = NotificationStatus.Accepted,
        Progress = progress ?? DeliveryProgress.Start,
        CreatedAt = _time.GetUtcNow(),
        UpdatedAt = _time.GetUtcNow(),
        Version = 3,
    };

    private DueDecision Decide(Notification n, Customer? customer = null, IReadOnlyList<Guid>? members = null, IReadOnlyList<Attempt>? inFlight = null, Attempt? awaited = null)
    {
        var now = _time.GetUtcNow();
        var choice = DeliveryStateMachine.OnDue(n, now, _ => true, Retry);
        return DueDecisions.Decide(new DueContext(n, choice, inFlight ?? [], awaited, customer, members), now);
    }

    [Fact]
    public void Due_NothingInTheWay_SendsNowOnTheFirstStep()
    {
        var n = Make();

        var send = Assert.IsType<DueDecision.SendNow>(Decide(n, Sleeper));

        Assert.Equal(0, send.Step);
        Assert.Same(Sleeper, send.Customer);
        Assert.Empty(send.Earlier);
        Assert.Null(send.ToStore());
    }

    [Fact]
    public void Expired_Finishes_WithoutSending()
    {
        var n = Make(expiresAt: _time.GetUtcNow().AddMinutes(5));
        _time.Advance(TimeSpan.FromMinutes(5));

        var finish = Assert.IsType<DueDecision.Finish>(Decide(n));

        Assert.Equal(NotificationStatus.Expired, finish.Update.Transition.Status);
        Assert.Equal(n.Version, finish.Update.ExpectedVersion);
    }

    [Fact]
    public void QuietHours_HoldUntilTheyEnd_ThenSend()
    {
        _time.Advance(TimeSpan.FromHours(11)); // 23:00
        var n = Make();

        var hold = Assert.IsType<DueDecision.HoldUntil>(Decide(n, Sleeper));

        var seven = new DateTimeOffset(2026, 12, 8, 7, 0, 0, TimeSpan.Zero);
        Assert.Equal(seven, hold.Until);
        Assert.Equal(QueueAction.At(seven), hold.Update.Transition.Queue);
        Assert.Empty(hold.Update.Attempts);

        _time.Advance(TimeSpan.FromHours(8)); // 07:00: the window has ended
        Assert.IsType<DueDecision.SendNow>(Decide(n, Sleeper));
    }

    [Fact]
    public void QuietHours_CriticalOverrides()
    {
        _time.Advance(TimeSpan.FromHours(11));
        var n = Make() with { Priority = Priority.Critical };

        Assert.IsType<DueDecision.SendNow>(Decide(n, Sleeper));
    }

    [Fact]
    public void DigestMember_NotTheNewest_CollapsesIntoTheNewest_EvenInQuietHours()
    {
        _time.Advance(TimeSpan.FromHours(11));
        var n = Make(SmsThenEmail with { Digest = new DigestMembership("k", _time.GetUtcNow()) });
        var newest = Guid.CreateVersion7(_time.GetUtcNow().AddSeconds(1));

        var collapsed = Assert.IsType<DueDecision.Collapsed>(Decide(n, Sleeper, members: [n.Id, newest]));

        Assert.Equal(newest, collapsed.SentInstead);
        Assert.Equal(NotificationStatus.Suppressed, collapsed.Update.Transition.Status);
        var attempt = Assert.Single(collapsed.Update.Attempts);
        Assert.Equal(AttemptLedger.DigestedCode, attempt.ErrorCode);
        Assert.Contains(newest.ToString(), attempt.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DigestMember_TheNewest_IsSentWithTheDigestData()
    {
        var older = Guid.CreateVersion7(_time.GetUtcNow().AddSeconds(-1));
        var n = Make(SmsThenEmail with { Digest = new DigestMembership("k", _time.GetUtcNow()) }) with { DataJson = """{"balance": 5}""" };

        var send = Assert.IsType<DueDecision.SendNow>(Decide(n, members: [older, n.Id]));

        Assert.Contains("\"count\":2", send.Notification.DataJson, StringComparison.Ordinal);
        Assert.Contains(older.ToString(), send.Notification.DataJson, StringComparison.Ordinal);
        Assert.Contains("\"balance\":5", send.Notification.DataJson, StringComparison.Ordinal);
    }

    [Fact]
    public void DigestMember_WhoseJoinWasLost_IsSentOnItsOwn()
    {
        var n = Make(SmsThenEmail with { Digest = new DigestMembership("k", _time.GetUtcNow()) });

        var send = Assert.IsType<DueDecision.SendNow>(Decide(n, members: [Guid.NewGuid()]));

        Assert.Equal(n.DataJson, send.Notification.DataJson);
    }

    [Fact]
    public void Throttle_Refused_SuppressesAsThrottled_KeepingEarlierAttempts_Admitted_Sends()
    {
        var n = Make(SmsThenEmail with { Throttle = new ThrottleMembership("k", 2, TimeSpan.FromHours(1)) }, contacts: new Contacts(Email: "c@example.test"));
        var send = Assert.IsType<DueDecision.SendNow>(Decide(n));
        Assert.Equal(1, send.Step);

        var throttled = Assert.IsType<DueDecision.Throttled>(DueDecisions.Admitted(send, admitted: false, _time.GetUtcNow()));

        Assert.Equal(NotificationStatus.Suppressed, throttled.Update.Transition.Status);
        Assert.Equal(QueueAction.Remove, throttled.Update.Transition.Queue);
        Assert.Equal(["no_address", AttemptLedger.ThrottledCode], throttled.Update.Attempts.Select(a => a.ErrorCode));
        Assert.Equal("Throttled: 2 notifications of this type were already sent to this customer within 1h.", throttled.Update.Attempts[^1].Error);
        Assert.Equal(Channel.Email, throttled.Update.Attempts[^1].Channel);
        Assert.Same(send, DueDecisions.Admitted(send, admitted: true, _time.GetUtcNow()));
    }

    [Fact]
    public void LostWorker_AndReceiptTimeout_AreClosedInTheLedger_BeforeTheNextStep()
    {
        var awaited = new Attempt
        {
            Id = Guid.CreateVersion7(_time.GetUtcNow()), NotificationId = Guid.Empty, Step = 0, Channel = Channel.Sms, State = AttemptState.Sent,
            CreatedAt = _time.GetUtcNow(),
        };
        var n = Make(progress: new DeliveryProgress(0, 0, awaited.Id)) with { Status = NotificationStatus.Sending };
        var lost = awaited with { Id = Guid.CreateVersion7(_time.GetUtcNow()), State = AttemptState.Sending };
        _time.Advance(TimeSpan.FromSeconds(31));

        var send = Assert.IsType<DueDecision.SendNow>(Decide(n, inFlight: [lost], awaited: awaited));

        Assert.Equal(1, send.Step);
        Assert.Equal(["worker_lost", "receipt_timeout"], send.Earlier.Select(a => a.ErrorCode));
        Assert.Equal(AttemptState.TimedOut, send.Earlier[1].State);
        Assert.All(send.Earlier, a => Assert.Equal(_time.GetUtcNow(), a.UpdatedAt));
    }
}
