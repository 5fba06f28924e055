using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Core.Delivery;

/// <summary>Bounds for transient retries within one route step, and for waiting out provider outages.</summary>
/// <param name="OutageRecheck">When no remaining step has a healthy provider, how long to wait before looking again.</param>
/// <param name="MaxOutageWait">How old a notification may grow while waiting out outages before it fails.</param>
public sealed record RetryPolicy(
    int MaxAttemptsPerStep, TimeSpan BaseDelay, TimeSpan MaxDelay, TimeSpan OutageRecheck, TimeSpan MaxOutageWait)
{
    public static readonly RetryPolicy Default = new(5, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(15), TimeSpan.FromHours(24));

    /// <summary>Exponential backoff with full jitter, never sooner than the provider's retry-after.</summary>
    /// <param name="jitter">A sample in [0, 1).</param>
    public TimeSpan DelayFor(int retry, TimeSpan? retryAfter, double jitter)
    {
        var ceiling = Math.Min(MaxDelay.TotalMilliseconds, BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(retry, 30)));
        // Half fixed, half jittered: keeps the exponential shape while spreading a thundering herd.
        var delay = TimeSpan.FromMilliseconds((ceiling / 2) + (ceiling / 2 * jitter));
        return retryAfter is { } after && after > delay ? after : delay;
    }
}

/// <summary>What the queue should do with the notification's entry after a transition.</summary>
/// <param name="DueAt">Null removes the entry (the notification is final); otherwise it becomes due then.</param>
public readonly record struct QueueAction(DateTimeOffset? DueAt)
{
    public static readonly QueueAction Remove = new(null);
    public static QueueAction At(DateTimeOffset dueAt) => new(dueAt);
}

/// <summary>A new stored state for a notification.</summary>
public sealed record Transition(NotificationStatus Status, DeliveryProgress Progress, Channel? DeliveredChannel, QueueAction Queue);

/// <summary>A step passed over without a send, recorded as a failed attempt so the timeline explains the fallback.</summary>
public sealed record SkippedStep(int Step, Channel Channel, string ErrorCode, string Error);

/// <summary>What a worker should do with a notification the queue handed it.</summary>
/// <param name="Send">The step to send on now, or null when <paramref name="Finish"/> is set.</param>
/// <param name="TimedOutAttemptId">The awaited attempt whose receipt did not come in time.</param>
/// <param name="Skipped">Steps passed over before <paramref name="Send"/>.</param>
/// <param name="Finish">A final state reached without sending.</param>
public sealed record StepChoice(
    int StepIndex,
    RouteStep? Send,
    Guid? TimedOutAttemptId,
    IReadOnlyList<SkippedStep> Skipped,
    Transition? Finish);

/// <summary>
/// The delivery state machine (SPEC §2): pure functions from a stored notification and an event to its next state.
/// Workers and receipt handlers do the I/O; every decision about fallback, retry, expiry and timeouts is made here.
/// </summary>
public static class DeliveryStateMachine
{
    /// <summary>The queue handed the notification to a worker: its first dispatch, a retry, or a receipt timeout.</summary>
    /// <param name="channelUsable">Whether the channel has at least one healthy provider for this tenant.</param>
    /// <param name="retry">With it, a notification whose remaining steps are all blocked by provider outages waits
    /// for recovery (up to <see cref="RetryPolicy.MaxOutageWait"/>) instead of failing. An outage is not the
    /// customer's fault and must not turn an accepted message into a failure.</param>
    public static StepChoice OnDue(Notification n, DateTimeOffset now, Func<Channel, bool> channelUsable, RetryPolicy? retry = null)
    {
        var skipped = new List<SkippedStep>();
        if (n.Status.IsFinal())
        {
            return new StepChoice(n.Progress.Step, null, null, skipped, new Transition(n.Status, n.Progress, n.Channel, QueueAction.Remove));
        }

        if (n.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return new StepChoice(n.Progress.Step, null, null, skipped, Final(n, NotificationStatus.Expired, null));
        }

        var step = n.Progress.Step;
        var timedOut = n.Progress.AwaitedAttemptId;
        if (timedOut is not null)
        {
            step++;
        }

        for (; step < n.Route.Steps.Count; step++)
        {
            var routeStep = n.Route.Steps[step];
            if (n.Contacts.AddressFor(routeStep.Channel) is null)
            {
                skipped.Add(new SkippedStep(step, routeStep.Channel, "no_address", "The customer has no address on this channel."));
            }
            else if (!channelUsable(routeStep.Channel))
            {
                skipped.Add(new SkippedStep(step, routeStep.Channel, "no_healthy_provider", "No healthy provider for this channel."));
            }
            else
            {
                return new StepChoice(step, routeStep, timedOut, skipped, null);
            }
        }

        var firstBlocked = skipped.FindIndex(s => s.ErrorCode == "no_healthy_provider");
        if (retry is not null && firstBlocked >= 0 && now - n.CreatedAt < retry.MaxOutageWait)
        {
            // Wait at the first blocked step; the steps before it had no address and stay passed.
            var waitAt = skipped[firstBlocked].Step;
            var wait = new Transition(NotificationStatus.Routed, new DeliveryProgress(waitAt, 0, null), null, QueueAction.At(now + retry.OutageRecheck));
            return new StepChoice(waitAt, null, timedOut, skipped.GetRange(0, firstBlocked), wait);
        }

        return new StepChoice(step, null, timedOut, skipped, Final(n, NotificationStatus.Failed, null));
    }

    /// <summary>The customer's quiet hours hold back the send <paramref name="decision"/> chose: wait until
    /// <paramref name="until"/> without an attempt. The step is kept (a receipt timeout still moved past the awaited
    /// step), so the next due look starts there again.</summary>
    public static Transition OnQuietHours(Notification n, StepChoice decision, DateTimeOffset until)
    {
        var retries = decision.StepIndex == n.Progress.Step && n.Progress.AwaitedAttemptId is null ? n.Progress.Retries : 0;
        return new Transition(NotificationStatus.Routed, new DeliveryProgress(decision.StepIndex, retries, null), null, QueueAction.At(until));
    }

    /// <summary>A send on <paramref name="stepIndex"/> returned <paramref name="outcome"/>.</summary>
    public static Transition OnSendOutcome(
        Notification n, int stepIndex, Guid attemptId, SendOutcome outcome, DateTimeOffset now, RetryPolicy retry, double jitter)
    {
        var step = n.Route.Steps[stepIndex];
        var retries = stepIndex == n.Progress.Step && n.Progress.AwaitedAttemptId is null ? n.Progress.Retries : 0;
        switch (outcome.Kind)
        {
            case SendOutcomeKind.Delivered:
            case SendOutcomeKind.Accepted when step.WaitFor == WaitFor.Sent:
                return Final(n, NotificationStatus.Delivered, step.Channel) with { Progress = new DeliveryProgress(stepIndex, retries, null) };
            case SendOutcomeKind.Accepted:
                return new Transition(
                    NotificationStatus.Sending,
                    new DeliveryProgress(stepIndex, retries, attemptId),
                    null,
                    QueueAction.At(now + step.Timeout));
            case SendOutcomeKind.TransientFailure when outcome.IsRateLimited:
                // Herald's own rate limiter held the send back: nothing reached the provider, so no retry is spent.
                return new Transition(
                    NotificationStatus.Routed,
                    new DeliveryProgress(stepIndex, retries, null),
                    null,
                    QueueAction.At(now + (outcome.RetryAfter ?? retry.BaseDelay)));
            case SendOutcomeKind.TransientFailure when retries + 1 < retry.MaxAttemptsPerStep:
                return new Transition(
                    NotificationStatus.Routed,
                    new DeliveryProgress(stepIndex, retries + 1, null),
                    null,
                    QueueAction.At(now + retry.DelayFor(retries, outcome.RetryAfter, jitter)));
            default:
                return NextStep(n, stepIndex, now);
        }
    }

    /// <summary>A receipt arrived for <paramref name="attempt"/>; null when the notification's state does not change.</summary>
    public static Transition? OnReceipt(Notification n, Attempt attempt, ReceiptState receipt, DateTimeOffset now)
    {
        if (n.Status.IsFinal())
        {
            return null;
        }

        switch (receipt)
        {
            // A late delivered receipt for an earlier step still means the customer has the message: stop falling back.
            case ReceiptState.Delivered or ReceiptState.Read:
                return Final(n, NotificationStatus.Delivered, attempt.Channel) with
                {
                    Progress = n.Progress with { AwaitedAttemptId = null },
                };
            case ReceiptState.Failed when n.Progress.AwaitedAttemptId == attempt.Id:
                return NextStep(n, n.Progress.Step, now);
            default:
                return null;
        }
    }

    /// <summary>The bank cancelled the notification; null when it is already final.</summary>
    public static Transition? OnCancel(Notification n) =>
        n.Status.IsFinal() ? null : Final(n, NotificationStatus.Cancelled, null);

    private static Transition NextStep(Notification n, int stepIndex, DateTimeOffset now)
    {
        var next = new DeliveryProgress(stepIndex + 1, 0, null);
        return next.Step >= n.Route.Steps.Count
            ? new Transition(NotificationStatus.Failed, next, null, QueueAction.Remove)
            : new Transition(NotificationStatus.Routed, next, null, QueueAction.At(now));
    }

    private static Transition Final(Notification n, NotificationStatus status, Channel? channel) =>
        new(status, n.Progress with { AwaitedAttemptId = null }, channel, QueueAction.Remove);
}
