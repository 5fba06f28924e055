using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Core.Rules;

namespace Herald.Core.Delivery;

/// <summary>The provider account a send went through, as its attempt records it.</summary>
public sealed record ProviderRef(Guid Id, string Name);

/// <summary>One try a provider refused transiently before the dispatch failed over to another account.</summary>
public sealed record FailedOverTry(ProviderRef Provider, Guid AttemptId, SendOutcome Outcome, DateTimeOffset StartedAt);

/// <summary>What a dispatch answered, as the ledger needs it (the channels' dispatch result, without its accounts).</summary>
/// <param name="Provider">The account that answered; null when no provider was tried (a template broke its limits).</param>
/// <param name="AttemptId">The attempt id the answering send carried: the begun attempt's, or a new one after a failover.</param>
/// <param name="StartedAt">When the answering send started.</param>
/// <param name="Failovers">Earlier tries of this dispatch refused transiently, oldest first.</param>
public sealed record SendReport(
    ProviderRef? Provider, SendOutcome Outcome, Guid? AttemptId = null, DateTimeOffset? StartedAt = null, IReadOnlyList<FailedOverTry>? Failovers = null);

/// <summary>
/// The attempt ledger: how each thing that happens to a due notification becomes attempt rows and a state transition
/// (SPEC §2, the timeline <c>GET /v1/notifications/{id}</c> shows). Pure; the worker stores what it returns.
/// </summary>
public static class AttemptLedger
{
    /// <summary>The attempt error code of a notification collapsed into another one's digest.</summary>
    public const string DigestedCode = "digested";

    /// <summary>The attempt error code of a notification the throttle kept back.</summary>
    public const string ThrottledCode = "throttled";

    /// <summary>Attempts a worker left in state sending when it lost its lease: closed as transient failures (the
    /// provider may have the message already; the notification is sent again).</summary>
    public static IEnumerable<Attempt> WorkerLost(IEnumerable<Attempt> inFlight, DateTimeOffset now) =>
        inFlight.Select(a => a with
        {
            State = AttemptState.Failed, FailureKind = "transient", ErrorCode = "worker_lost",
            Error = "The worker holding this send stopped before it recorded the provider's answer.", UpdatedAt = now,
        });

    /// <summary>The awaited attempt whose delivered receipt did not come in time.</summary>
    public static Attempt TimedOut(Attempt awaited, DateTimeOffset now) =>
        awaited with { State = AttemptState.TimedOut, ErrorCode = "receipt_timeout", Error = "No delivery receipt in time.", UpdatedAt = now };

    /// <summary>A step passed over without a send, so the timeline explains the fallback.</summary>
    public static Attempt Skipped(Notification n, SkippedStep s, DateTimeOffset now) => new()
    {
        Id = TimeOrderedIds.New(now), NotificationId = n.Id, Step = s.Step, Channel = s.Channel, State = AttemptState.Failed,
        FailureKind = "permanent", ErrorCode = s.ErrorCode, Error = s.Error, CreatedAt = now, UpdatedAt = now,
    };

    /// <summary>The attempt recorded (state sending) before the provider is called, so a crash mid-send is seen.</summary>
    public static Attempt Begin(Notification n, int step, DateTimeOffset now) => new()
    {
        Id = TimeOrderedIds.New(now), NotificationId = n.Id, Step = step, Channel = n.Route.Steps[step].Channel,
        State = AttemptState.Sending, CreatedAt = now, UpdatedAt = now,
    };

    /// <summary>A digest member that is not its window's newest: it ends suppressed, its attempt naming the one sent instead.</summary>
    public static DeliveryUpdate Digested(Notification n, Guid sentInstead, IReadOnlyList<Attempt> earlier, DateTimeOffset now) =>
        Suppressed(n, n.Progress.Step, DigestedCode, $"Collapsed into the digest sent as notification {sentInstead}.", earlier, now);

    /// <summary>A notification its throttle group's window is full for: it ends suppressed, its attempt saying the limit.</summary>
    public static DeliveryUpdate Throttled(Notification n, int step, ThrottleMembership throttle, IReadOnlyList<Attempt> earlier, DateTimeOffset now) =>
        Suppressed(n, step, ThrottledCode,
            $"Throttled: {throttle.Max} notifications of this type were already sent to this customer within {Durations.Format(throttle.Per)}.", earlier, now);

    /// <summary>The dispatch of <paramref name="begun"/> answered <paramref name="report"/>: the refused tries before a
    /// failover are attempts of their own (the first keeps the begun attempt's id), the answering send is the last one,
    /// and the state machine moves the notification on (delivered, awaiting a receipt, retry or next step).</summary>
    /// <param name="jitter">A sample in [0, 1) for the retry backoff.</param>
    public static DeliveryUpdate Sent(
        Notification n, int step, Attempt begun, SendReport report, IReadOnlyList<Attempt> earlier, DateTimeOffset now, RetryPolicy retry, double jitter)
    {
        var failovers = (report.Failovers ?? []).Select((f, i) => (i == 0 ? begun : begun with { Id = f.AttemptId, CreatedAt = f.StartedAt }) with
        {
            ProviderId = f.Provider.Id,
            ProviderName = f.Provider.Name,
            State = AttemptState.Failed,
            FailureKind = "transient",
            ErrorCode = f.Outcome.ErrorCode,
            Error = f.Outcome.Error,
            UpdatedAt = now,
        }).ToList();

        var outcome = report.Outcome;
        var answered = failovers.Count == 0 ? begun : begun with { Id = report.AttemptId ?? TimeOrderedIds.New(now), CreatedAt = report.StartedAt ?? now };
        var attempt = answered with
        {
            ProviderId = report.Provider?.Id,
            ProviderName = report.Provider?.Name,
            ProviderMessageId = outcome.ProviderMessageId,
            State = outcome.Kind switch
            {
                SendOutcomeKind.Accepted => AttemptState.Sent,
                SendOutcomeKind.Delivered => AttemptState.Delivered,
                _ => AttemptState.Failed,
            },
            FailureKind = outcome.Kind switch
            {
                SendOutcomeKind.TransientFailure => "transient",
                SendOutcomeKind.PermanentFailure => "permanent",
                _ => null,
            },
            ErrorCode = outcome.ErrorCode,
            Error = outcome.Error,
            Cost = outcome.Cost,
            SentAt = outcome.Kind is SendOutcomeKind.Accepted or SendOutcomeKind.Delivered ? now : null,
            DeliveredAt = outcome.Kind == SendOutcomeKind.Delivered ? now : null,
            UpdatedAt = now,
        };

        var transition = DeliveryStateMachine.OnSendOutcome(n, step, attempt.Id, outcome, now, retry, jitter);
        return new DeliveryUpdate(n.Id, n.Version, transition, [.. earlier, .. failovers, attempt]);
    }

    private static DeliveryUpdate Suppressed(Notification n, int step, string code, string error, IReadOnlyList<Attempt> earlier, DateTimeOffset now)
    {
        var attempt = new Attempt
        {
            Id = TimeOrderedIds.New(now), NotificationId = n.Id, Step = step, Channel = n.Route.Steps[step].Channel,
            State = AttemptState.Failed, FailureKind = "permanent", ErrorCode = code, Error = error, CreatedAt = now, UpdatedAt = now,
        };
        var transition = new Transition(NotificationStatus.Suppressed, n.Progress, null, QueueAction.Remove);
        return new DeliveryUpdate(n.Id, n.Version, transition, [.. earlier, attempt]);
    }
}
