using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Core.Tests.Delivery;

/// <summary>How a send's answer becomes attempt rows and a transition (issue #15): failovers, delivered, retries.</summary>
public sealed class AttemptLedgerTests
{
    private static readonly RetryPolicy Retry = new(3, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(15), TimeSpan.FromHours(1));
    private static readonly ProviderRef Primary = new(Guid.NewGuid(), "primary");
    private static readonly ProviderRef Backup = new(Guid.NewGuid(), "backup");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    private Notification Make(WaitFor waitFor = WaitFor.Sent) => new()
    {
        Id = Guid.CreateVersion7(_time.GetUtcNow()),
        TenantId = Guid.NewGuid(),
        Type = "otp",
        Contacts = new Contacts(Phone: "+4915112345678", Email: "c@example.test"),
        Priority = Priority.Critical,
        Route = new Route(Priority.Critical,
        [
            new RouteStep(Channel.Sms, waitFor, TimeSpan.FromSeconds(30)),
            new RouteStep(Channel.Email, WaitFor.Sent, TimeSpan.FromSeconds(30)),
        ]),
        Status = NotificationStatus.Accepted,
        Progress = DeliveryProgress.Start,
        CreatedAt = _time.GetUtcNow(),
        UpdatedAt = _time.GetUtcNow(),
        Version = 7,
    };

    [Fact]
    public void Begin_RecordsASendingAttemptOnTheStepsChannel()
    {
        var n = Make();

        var begun = AttemptLedger.Begin(n, 1, _time.GetUtcNow());

        Assert.Equal((n.Id, 1, Channel.Email, AttemptState.Sending), (begun.NotificationId, begun.Step, begun.Channel, begun.State));
    }

    [Fact]
    public void Sent_Accepted_OnASentStep_IsDelivered_WithProviderAndCost()
    {
        var n = Make();
        var begun = AttemptLedger.Begin(n, 0, _time.GetUtcNow());
        _time.Advance(TimeSpan.FromMilliseconds(300));
        var now = _time.GetUtcNow();

        var update = AttemptLedger.Sent(n, 0, begun, new SendReport(Primary, new SendOutcome(SendOutcomeKind.Accepted, "m-1", Cost: 0.05m)), [], now, Retry, 0.5);

        Assert.Equal((n.Id, 7), (update.NotificationId, update.ExpectedVersion));
        Assert.Equal(NotificationStatus.Delivered, update.Transition.Status);
        Assert.Equal(Channel.Sms, update.Transition.DeliveredChannel);
        var attempt = Assert.Single(update.Attempts);
        Assert.Equal(begun.Id, attempt.Id);
        Assert.Equal((AttemptState.Sent, "m-1", 0.05m, Primary.Id, "primary"), (attempt.State, attempt.ProviderMessageId, attempt.Cost, attempt.ProviderId, attempt.ProviderName));
        Assert.Equal(now, attempt.SentAt);
        Assert.Null(attempt.DeliveredAt);
    }

    [Fact]
    public void Sent_AfterFailover_TheRefusalKeepsTheBegunId_TheAnswerIsANewAttempt()
    {
        var n = Make(WaitFor.Delivered);
        var begun = AttemptLedger.Begin(n, 0, _time.GetUtcNow());
        _time.Advance(TimeSpan.FromSeconds(1));
        var retried = Guid.CreateVersion7(_time.GetUtcNow());
        var startedAt = _time.GetUtcNow();
        var report = new SendReport(Backup, new SendOutcome(SendOutcomeKind.Accepted, "m-2"), retried, startedAt,
            [new FailedOverTry(Primary, begun.Id, SendOutcome.Transient("http_503", "unavailable"), begun.CreatedAt)]);

        var update = AttemptLedger.Sent(n, 0, begun, report, [], _time.GetUtcNow(), Retry, 0.5);

        Assert.Equal(2, update.Attempts.Count);
        var (refused, answered) = (update.Attempts[0], update.Attempts[1]);
        Assert.Equal((begun.Id, AttemptState.Failed, "transient", "http_503", "primary"), (refused.Id, refused.State, refused.FailureKind, refused.ErrorCode, refused.ProviderName));
        Assert.Equal((retried, startedAt, AttemptState.Sent, "backup"), (answered.Id, answered.CreatedAt, answered.State, answered.ProviderName));
        // Waiting for the delivered receipt of the answering attempt.
        Assert.Equal(NotificationStatus.Sending, update.Transition.Status);
        Assert.Equal(answered.Id, update.Transition.Progress.AwaitedAttemptId);
        Assert.Equal(QueueAction.At(_time.GetUtcNow().AddSeconds(30)), update.Transition.Queue);
    }

    [Fact]
    public void Sent_TransientFailure_RetriesTheStep_PermanentFailure_FallsBack_EarlierAttemptsComeFirst()
    {
        var n = Make();
        var begun = AttemptLedger.Begin(n, 0, _time.GetUtcNow());
        var earlier = AttemptLedger.TimedOut(begun with { Id = Guid.NewGuid(), State = AttemptState.Sent }, _time.GetUtcNow());

        var transient = AttemptLedger.Sent(n, 0, begun, new SendReport(Primary, SendOutcome.Transient("timeout", "slow")), [earlier], _time.GetUtcNow(), Retry, 0);
        var permanent = AttemptLedger.Sent(n, 0, begun, new SendReport(null, SendOutcome.Permanent("template_too_large", "too big")), [], _time.GetUtcNow(), Retry, 0);

        Assert.Equal([earlier.Id, begun.Id], transient.Attempts.Select(a => a.Id));
        Assert.Equal((NotificationStatus.Routed, 0, 1), (transient.Transition.Status, transient.Transition.Progress.Step, transient.Transition.Progress.Retries));
        Assert.Equal(QueueAction.At(_time.GetUtcNow().AddMilliseconds(500)), transient.Transition.Queue);
        Assert.Equal((NotificationStatus.Routed, 1), (permanent.Transition.Status, permanent.Transition.Progress.Step));
        var failed = Assert.Single(permanent.Attempts);
        Assert.Equal(("permanent", "template_too_large", null), (failed.FailureKind, failed.ErrorCode, failed.ProviderName));
    }
}
