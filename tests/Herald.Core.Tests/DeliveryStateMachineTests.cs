using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Core.Tests;

public sealed class DeliveryStateMachineTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly RetryPolicy Retry = new(3, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(15), TimeSpan.FromHours(1));

    private static readonly Route WhatsAppThenTelegramThenSms = new(Priority.High,
    [
        new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30)),
        new RouteStep(Channel.Telegram, WaitFor.Sent, TimeSpan.FromSeconds(30)),
        new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.FromSeconds(30)),
    ]);

    private static Notification Make(Route? route = null, DeliveryProgress? progress = null, NotificationStatus status = NotificationStatus.Accepted,
        DateTimeOffset? expiresAt = null, Contacts? contacts = null) => new()
    {
        Id = Guid.CreateVersion7(),
        TenantId = Guid.NewGuid(),
        Type = "card.transaction",
        Contacts = contacts ?? new Contacts(Phone: "+4915112345678", TelegramChatId: "42"),
        Priority = Priority.High,
        ExpiresAt = expiresAt,
        Route = route ?? WhatsAppThenTelegramThenSms,
        Status = status,
        Progress = progress ?? DeliveryProgress.Start,
        CreatedAt = Now,
        UpdatedAt = Now,
    };

    private static Attempt AttemptFor(Notification n, int step, Guid? id = null) => new()
    {
        Id = id ?? Guid.NewGuid(), NotificationId = n.Id, Step = step, Channel = n.Route.Steps[step].Channel, State = AttemptState.Sent, CreatedAt = Now,
    };

    [Fact]
    public void OnDue_FreshNotification_SendsOnFirstStep()
    {
        var decision = DeliveryStateMachine.OnDue(Make(), Now, _ => true);

        Assert.Equal(0, decision.StepIndex);
        Assert.Equal(Channel.WhatsApp, decision.Send!.Channel);
        Assert.Null(decision.Finish);
        Assert.Empty(decision.Skipped);
    }

    [Fact]
    public void OnDue_PastExpiry_ExpiresWithoutSending()
    {
        var decision = DeliveryStateMachine.OnDue(Make(expiresAt: Now.AddSeconds(-1)), Now, _ => true);

        Assert.Null(decision.Send);
        Assert.Equal(NotificationStatus.Expired, decision.Finish!.Status);
        Assert.Null(decision.Finish.Queue.DueAt);
    }

    [Fact]
    public void OnDue_ChannelWithoutHealthyProvider_IsSkippedAndRecorded()
    {
        var decision = DeliveryStateMachine.OnDue(Make(), Now, channel => channel != Channel.WhatsApp);

        Assert.Equal(Channel.Telegram, decision.Send!.Channel);
        Assert.Equal(1, decision.StepIndex);
        var skipped = Assert.Single(decision.Skipped);
        Assert.Equal("no_healthy_provider", skipped.ErrorCode);
    }

    [Fact]
    public void OnDue_StepWithoutAddress_IsSkipped()
    {
        var decision = DeliveryStateMachine.OnDue(Make(contacts: new Contacts(TelegramChatId: "42")), Now, _ => true);

        Assert.Equal(Channel.Telegram, decision.Send!.Channel);
        Assert.Equal("no_address", Assert.Single(decision.Skipped).ErrorCode);
    }

    [Fact]
    public void OnDue_NoUsableStepLeft_Fails()
    {
        var decision = DeliveryStateMachine.OnDue(Make(), Now, _ => false);

        Assert.Equal(NotificationStatus.Failed, decision.Finish!.Status);
        Assert.Equal(3, decision.Skipped.Count);
    }

    [Fact]
    public void OnDue_AllRemainingStepsBlockedByOutage_WaitsForRecoveryInsteadOfFailing()
    {
        var n = Make(contacts: new Contacts(TelegramChatId: "42", Phone: null));

        var decision = DeliveryStateMachine.OnDue(n, Now, _ => false, Retry);

        Assert.Null(decision.Send);
        Assert.Equal(NotificationStatus.Routed, decision.Finish!.Status);
        Assert.Equal(Now.AddSeconds(15), decision.Finish.Queue.DueAt);
        Assert.Equal(1, decision.Finish.Progress.Step);
        // Only the step without an address is recorded as passed; the blocked one is retried, not failed.
        Assert.Equal("no_address", Assert.Single(decision.Skipped).ErrorCode);
    }

    [Fact]
    public void OnDue_OutageOutlastsMaxWait_Fails()
    {
        var n = Make() with { CreatedAt = Now - TimeSpan.FromHours(2) };

        var decision = DeliveryStateMachine.OnDue(n, Now, _ => false, Retry);

        Assert.Equal(NotificationStatus.Failed, decision.Finish!.Status);
    }

    [Fact]
    public void OnDue_AwaitingReceipt_TimesOutAndMovesToNextStep()
    {
        var awaited = Guid.NewGuid();
        var n = Make(progress: new DeliveryProgress(0, 0, awaited), status: NotificationStatus.Sending);

        var decision = DeliveryStateMachine.OnDue(n, Now, _ => true);

        Assert.Equal(awaited, decision.TimedOutAttemptId);
        Assert.Equal(Channel.Telegram, decision.Send!.Channel);
    }

    [Fact]
    public void OnDue_FinalNotification_OnlyRemovesQueueEntry()
    {
        var decision = DeliveryStateMachine.OnDue(Make(status: NotificationStatus.Cancelled), Now, _ => true);

        Assert.Equal(NotificationStatus.Cancelled, decision.Finish!.Status);
        Assert.Null(decision.Send);
    }

    [Fact]
    public void OnSendOutcome_AcceptedOnStepWaitingForDelivered_WaitsForReceiptUntilTimeout()
    {
        var n = Make();
        var attemptId = Guid.NewGuid();

        var t = DeliveryStateMachine.OnSendOutcome(n, 0, attemptId, new SendOutcome(SendOutcomeKind.Accepted, "wamid.1"), Now, Retry, 0.5);

        Assert.Equal(NotificationStatus.Sending, t.Status);
        Assert.Equal(attemptId, t.Progress.AwaitedAttemptId);
        Assert.Equal(Now.AddSeconds(30), t.Queue.DueAt);
    }

    [Fact]
    public void OnSendOutcome_AcceptedOnStepWaitingForSent_IsDelivered()
    {
        var t = DeliveryStateMachine.OnSendOutcome(Make(), 1, Guid.NewGuid(), new SendOutcome(SendOutcomeKind.Accepted), Now, Retry, 0.5);

        Assert.Equal(NotificationStatus.Delivered, t.Status);
        Assert.Equal(Channel.Telegram, t.DeliveredChannel);
        Assert.Null(t.Queue.DueAt);
    }

    [Fact]
    public void OnSendOutcome_PermanentFailure_FallsBackToNextStepNow()
    {
        var t = DeliveryStateMachine.OnSendOutcome(Make(), 0, Guid.NewGuid(), SendOutcome.Permanent("131026", "undeliverable"), Now, Retry, 0.5);

        Assert.Equal(NotificationStatus.Routed, t.Status);
        Assert.Equal(1, t.Progress.Step);
        Assert.Equal(Now, t.Queue.DueAt);
    }

    [Fact]
    public void OnSendOutcome_PermanentFailureOnLastStep_Fails()
    {
        var n = Make(progress: new DeliveryProgress(2, 0, null));

        var t = DeliveryStateMachine.OnSendOutcome(n, 2, Guid.NewGuid(), SendOutcome.Permanent("21211", "invalid"), Now, Retry, 0.5);

        Assert.Equal(NotificationStatus.Failed, t.Status);
        Assert.Null(t.Queue.DueAt);
    }

    [Fact]
    public void OnSendOutcome_TransientFailure_RetriesSameStepWithBackoff()
    {
        var t = DeliveryStateMachine.OnSendOutcome(Make(), 0, Guid.NewGuid(), SendOutcome.Transient("500", "oops"), Now, Retry, 0.0);

        Assert.Equal(0, t.Progress.Step);
        Assert.Equal(1, t.Progress.Retries);
        Assert.True(t.Queue.DueAt > Now);
    }

    [Fact]
    public void OnSendOutcome_TransientFailure_HonoursRetryAfter()
    {
        var t = DeliveryStateMachine.OnSendOutcome(Make(), 0, Guid.NewGuid(), SendOutcome.Transient("429", "slow down", TimeSpan.FromSeconds(20)), Now, Retry, 0.0);

        Assert.Equal(Now.AddSeconds(20), t.Queue.DueAt);
    }

    [Fact]
    public void OnSendOutcome_TransientFailuresExhausted_FallsBack()
    {
        var n = Make(progress: new DeliveryProgress(0, Retry.MaxAttemptsPerStep - 1, null));

        var t = DeliveryStateMachine.OnSendOutcome(n, 0, Guid.NewGuid(), SendOutcome.Transient("500", "oops"), Now, Retry, 0.5);

        Assert.Equal(1, t.Progress.Step);
        Assert.Equal(0, t.Progress.Retries);
    }

    [Fact]
    public void OnSendOutcome_RateLimitedByHerald_WaitsForRetryAfterWithoutSpendingARetry()
    {
        var n = Make(progress: new DeliveryProgress(0, 1, null));

        var t = DeliveryStateMachine.OnSendOutcome(n, 0, Guid.NewGuid(), SendOutcome.RateLimited(TimeSpan.FromMilliseconds(750)), Now, Retry, 0.9);

        Assert.Equal(NotificationStatus.Routed, t.Status);
        Assert.Equal(new DeliveryProgress(0, 1, null), t.Progress);
        Assert.Equal(Now.AddMilliseconds(750), t.Queue.DueAt);
    }

    [Fact]
    public void OnSendOutcome_RateLimitedMoreOftenThanMaxAttempts_StaysOnTheStep()
    {
        var n = Make(progress: new DeliveryProgress(0, Retry.MaxAttemptsPerStep - 1, null));
        for (var i = 0; i < Retry.MaxAttemptsPerStep * 3; i++)
        {
            var t = DeliveryStateMachine.OnSendOutcome(n, 0, Guid.NewGuid(), SendOutcome.RateLimited(TimeSpan.FromSeconds(1)), Now, Retry, 0.5);
            n = n with { Status = t.Status, Progress = t.Progress };
        }

        Assert.Equal(new DeliveryProgress(0, Retry.MaxAttemptsPerStep - 1, null), n.Progress);
        // A provider's own transient failure still spends the last retry and falls back.
        var afterProviderFailure = DeliveryStateMachine.OnSendOutcome(n, 0, Guid.NewGuid(), SendOutcome.Transient("429", "slow down"), Now, Retry, 0.5);
        Assert.Equal(1, afterProviderFailure.Progress.Step);
    }

    [Fact]
    public void OnReceipt_DeliveredForAwaitedAttempt_IsDelivered()
    {
        var attemptId = Guid.NewGuid();
        var n = Make(progress: new DeliveryProgress(0, 0, attemptId), status: NotificationStatus.Sending);

        var t = DeliveryStateMachine.OnReceipt(n, AttemptFor(n, 0, attemptId), ReceiptState.Delivered, Now)!;

        Assert.Equal(NotificationStatus.Delivered, t.Status);
        Assert.Equal(Channel.WhatsApp, t.DeliveredChannel);
        Assert.Null(t.Queue.DueAt);
    }

    [Fact]
    public void OnReceipt_ReadImpliesDelivered()
    {
        var attemptId = Guid.NewGuid();
        var n = Make(progress: new DeliveryProgress(0, 0, attemptId), status: NotificationStatus.Sending);

        Assert.Equal(NotificationStatus.Delivered, DeliveryStateMachine.OnReceipt(n, AttemptFor(n, 0, attemptId), ReceiptState.Read, Now)!.Status);
    }

    [Fact]
    public void OnReceipt_FailedForAwaitedAttempt_FallsBackNow()
    {
        var attemptId = Guid.NewGuid();
        var n = Make(progress: new DeliveryProgress(0, 0, attemptId), status: NotificationStatus.Sending);

        var t = DeliveryStateMachine.OnReceipt(n, AttemptFor(n, 0, attemptId), ReceiptState.Failed, Now)!;

        Assert.Equal(1, t.Progress.Step);
        Assert.Equal(Now, t.Queue.DueAt);
    }

    [Fact]
    public void OnReceipt_FailedForEarlierAttempt_ChangesNothing()
    {
        var n = Make(progress: new DeliveryProgress(1, 0, null), status: NotificationStatus.Routed);

        Assert.Null(DeliveryStateMachine.OnReceipt(n, AttemptFor(n, 0), ReceiptState.Failed, Now));
    }

    [Fact]
    public void OnReceipt_OnFinalNotification_ChangesNothing()
    {
        var n = Make(status: NotificationStatus.Delivered);

        Assert.Null(DeliveryStateMachine.OnReceipt(n, AttemptFor(n, 0), ReceiptState.Read, Now));
    }

    [Fact]
    public void OnCancel_PendingNotification_IsCancelled_FinalIsNot()
    {
        Assert.Equal(NotificationStatus.Cancelled, DeliveryStateMachine.OnCancel(Make())!.Status);
        Assert.Null(DeliveryStateMachine.OnCancel(Make(status: NotificationStatus.Delivered)));
    }

    [Theory]
    [InlineData(0, 500, 1000)]
    [InlineData(1, 1000, 2000)]
    [InlineData(3, 4000, 8000)]
    [InlineData(20, 30000, 60000)]
    public void RetryPolicy_DelayFor_GrowsExponentiallyWithinJitterAndCap(int retry, int minMs, int maxMs)
    {
        for (var jitter = 0.0; jitter < 1.0; jitter += 0.25)
        {
            var delay = Retry.DelayFor(retry, null, jitter).TotalMilliseconds;
            Assert.InRange(delay, minMs, maxMs);
        }
    }
}
