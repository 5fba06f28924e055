using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Observability;
using Herald.Server.Digests;
using Herald.Server.Hosting;
using Herald.Server.Throttling;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Delivery;

/// <summary>
/// Claims due notifications from the durable queue in batches and moves each one step through the delivery
/// state machine: claim → load (<see cref="DeliveryLoader"/>) → decide (<see cref="DueDecisions"/>, Core, pure) →
/// send (<see cref="DeliverySender"/>) → apply (the <see cref="AttemptLedger"/>'s updates, one transaction per batch).
/// Several loops overlap sends with database round trips. On shutdown it stops claiming and finishes what it holds;
/// whatever it cannot finish comes back to the queue when its lease ends.
/// </summary>
public sealed class DeliveryWorker(
    IDeliveryStore store,
    DeliveryLoader loader,
    DeliverySender sender,
    ReceiptProcessor receipts,
    HeraldMetrics metrics,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<DeliveryWorker> logger) : BackgroundService
{
    private readonly WorkerOptions _options = options.Value;
    private readonly RetryPolicy _retry = new(
        options.Value.MaxAttemptsPerStep, options.Value.RetryBaseDelay, options.Value.RetryMaxDelay, options.Value.OutageRecheck, options.Value.MaxOutageWait);
    private readonly CancellationTokenSource _abort = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Deliver only once the node is fully up (listening, callbacks mapped): receipts for what it sends must find it.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        await using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        // One loop is reserved for the critical lane, so a critical notification never waits for a loop that is busy
        // sending a batch of lower ones (SPEC §2: critical never waits behind lower lanes).
        await Task.WhenAll(Enumerable.Range(0, _options.Loops).Select(_ => LoopAsync(Priority.Low, stoppingToken))
            .Append(LoopAsync(Priority.Critical, stoppingToken)));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        logger.Draining();
        // The host's shutdown timeout bounds the drain; past it, sends still in flight are abandoned to their leases.
        await using var registration = cancellationToken.Register(_abort.Cancel);
        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _abort.Dispose();
        base.Dispose();
    }

    private async Task LoopAsync(Priority lowestLane, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var claimed = await store.ClaimAsync(_options.ClaimBatch, _options.Lease, time.GetUtcNow(), lowestLane, stoppingToken);
                metrics.Claimed(claimed.Count, lowestLane);
                if (claimed.Count > 0)
                {
                    await ProcessAsync(claimed, _abort.Token);
                    continue;
                }

                var wait = _options.IdleWait;
                // The critical loop cannot use the queue's next due time: a due low backlog would make it spin.
                if (lowestLane != Priority.Critical && await store.NextDueAsync(stoppingToken) is { } nextDue)
                {
                    var untilDue = nextDue - time.GetUtcNow();
                    wait = untilDue < TimeSpan.Zero ? TimeSpan.Zero : untilDue < wait ? untilDue : wait;
                }

                if (wait > TimeSpan.Zero)
                {
                    await store.WaitForWorkAsync(wait, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.DeliveryLoopFailed(e);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One claimed batch: load, decide, record the begun attempts, send concurrently, store every outcome in
    /// one transaction.</summary>
    internal async Task ProcessAsync(IReadOnlyList<ClaimedNotification> claimed, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var choices = new StepChoice[claimed.Count];
        for (var i = 0; i < choices.Length; i++)
        {
            var n = claimed[i].Notification;
            if (claimed[i].InFlightAttempts.Count > 0)
            {
                // A worker died mid-send: the provider may have the message already. Count it; the ledger closes the attempt.
                metrics.InFlightResends(claimed[i].InFlightAttempts.Count);
                logger.InFlightResend(n.Id, claimed[i].InFlightAttempts.Count);
            }

            choices[i] = DeliveryStateMachine.OnDue(n, now, channel => sender.IsUsable(n.TenantId, channel), _retry);
        }

        var contexts = await loader.LoadAsync(claimed, choices, ct);
        var updates = new List<DeliveryUpdate>(claimed.Count);
        var sends = new List<(DueDecision.SendNow Send, Attempt Attempt)>(claimed.Count);
        foreach (var context in contexts)
        {
            var decision = DueDecisions.Decide(context, now);
            if (decision is DueDecision.SendNow send)
            {
                decision = await sender.AdmitAsync(send, now, ct);
            }

            var n = context.Notification;
            switch (decision)
            {
                case DueDecision.SendNow admitted:
                    sends.Add((admitted, AttemptLedger.Begin(admitted.Notification, admitted.Step, now)));
                    continue;
                case DueDecision.Finish finish when !n.Status.IsFinal() && finish.Update.Transition.Status.IsFinal():
                    metrics.Finished(finish.Update.Transition.Status, finish.Update.Transition.DeliveredChannel);
                    break;
                case DueDecision.Collapsed:
                    logger.Digested(n.Id);
                    metrics.Finished(NotificationStatus.Suppressed, null);
                    metrics.Suppressed("digest");
                    break;
                case DueDecision.HoldUntil hold:
                    logger.QuietHoursHeld(n.Id, hold.Until);
                    metrics.Held("quiet_hours");
                    break;
                case DueDecision.Throttled:
                    logger.Throttled(n.Id);
                    metrics.Finished(NotificationStatus.Suppressed, null);
                    metrics.Suppressed("throttle");
                    break;
            }

            var update = decision.ToStore()!;
            metrics.Transition(n, update, now);
            updates.Add(update);
        }

        if (sends.Count > 0)
        {
            await store.BeginAttemptsAsync([.. sends.Select(s => s.Attempt)], ct);
            updates.AddRange(await Task.WhenAll(sends.Select(s => SendAsync(s.Send, s.Attempt, now, ct))));
        }

        if (updates.Count > 0)
        {
            var result = await store.ApplyAsync(updates, time.GetUtcNow(), ct);
            foreach (var receipt in result.Receipts)
            {
                await receipts.ProcessAsync(receipt, ct);
            }
        }
    }

    /// <param name="claimedAt">When its batch was claimed: the start of its span, so the span shows load and decide too.</param>
    private async Task<DeliveryUpdate> SendAsync(DueDecision.SendNow send, Attempt attempt, DateTimeOffset claimedAt, CancellationToken ct)
    {
        // The notification's trace (its stored traceparent): the provider call's span nests in this one.
        using var span = HeraldTraces.StartIn("herald.deliver", send.Notification.TraceParent, start: claimedAt);
        span?.SetTag(HeraldTraces.Tags.Notification, send.Notification.Id);
        span?.SetTag(HeraldTraces.Tags.Attempt, attempt.Id);
        span?.SetTag(HeraldTraces.Tags.Channel, attempt.Channel);
        span?.SetTag(HeraldTraces.Tags.Step, send.Step);
        span?.SetTag(HeraldTraces.Tags.Priority, send.Notification.Priority);
        var report = await sender.SendAsync(send.Notification, send.Step, attempt, send.Customer, ct);
        span?.SetTag(HeraldTraces.Tags.Outcome, report.Outcome.Kind);
        var now = time.GetUtcNow();
        var update = AttemptLedger.Sent(send.Notification, send.Step, attempt, report, send.Earlier, now, _retry, Random.Shared.NextDouble());
        if (update.Transition.Status.IsFinal())
        {
            metrics.Finished(update.Transition.Status, update.Transition.DeliveredChannel);
        }

        metrics.Sent(send.Notification, send.Step, report.Outcome, now);
        metrics.Transition(send.Notification, update, now);

        return update;
    }
}
