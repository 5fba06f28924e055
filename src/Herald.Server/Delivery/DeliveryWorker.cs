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
    private readonly CriticalPressure _pressure = new(time, options.Value.CriticalCalm);

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
        // sending a batch of lower ones (SPEC §2: critical never waits behind lower lanes). That loop also keeps several
        // batches in flight: a critical claimed while an earlier one's outcome is being stored goes out at once, rather
        // than after that commit.
        // While criticals flow, all but a few of the other loops pause (CriticalPressure).
        await Task.WhenAll(Enumerable.Range(0, _options.Loops)
            .Select(i => LoopAsync(Priority.Low, 1, yields: i >= _options.LoopsWhileCritical, stoppingToken))
            .Append(LoopAsync(Priority.Critical, _options.CriticalBatchesInFlight, yields: false, stoppingToken)));
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

    /// <param name="batchesInFlight">Claimed batches processed at once: with one, the loop claims again only when its
    /// batch is stored; with more, it claims again as soon as it has work and a free slot.</param>
    /// <param name="yields">Whether the loop stops claiming while criticals flow (<see cref="CriticalPressure"/>).</param>
    private async Task LoopAsync(Priority lowestLane, int batchesInFlight, bool yields, CancellationToken stoppingToken)
    {
        using var slots = new SemaphoreSlim(batchesInFlight);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (yields)
                {
                    await _pressure.WhenCalmAsync(stoppingToken);
                }

                await slots.WaitAsync(stoppingToken);
                IReadOnlyList<ClaimedNotification> claimed;
                try
                {
                    claimed = await store.ClaimAsync(_options.ClaimBatch, _options.Lease, time.GetUtcNow(), lowestLane, stoppingToken);
                }
                catch
                {
                    slots.Release();
                    throw;
                }

                metrics.Claimed(claimed.Count, lowestLane);
                if (claimed.Count > 0)
                {
                    var batch = ProcessReleasingAsync(claimed, slots, stoppingToken);
                    if (batchesInFlight == 1)
                    {
                        await batch;
                    }

                    continue;
                }

                slots.Release();
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
                break;
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
                    break;
                }
            }
        }

        // Stopping: every batch still in flight finishes (or is abandoned to its lease by StopAsync's deadline).
        for (var i = 0; i < batchesInFlight; i++)
        {
            await slots.WaitAsync(CancellationToken.None);
        }
    }

    /// <summary><see cref="ProcessAsync"/>, then frees the loop's slot; a failure is logged here, since nobody awaits a
    /// batch the loop does not wait for (what it held comes back to the queue when its lease ends), and holds the slot a
    /// second longer, so a failure that repeats does not lease batch after batch at full speed.</summary>
    private async Task ProcessReleasingAsync(IReadOnlyList<ClaimedNotification> claimed, SemaphoreSlim slots, CancellationToken stoppingToken)
    {
        try
        {
            await ProcessAsync(claimed, _abort.Token);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // Shutdown's deadline passed: the leases bring these back.
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
                // Stopping: no need to wait any longer.
            }
        }
        finally
        {
            slots.Release();
        }
    }

    /// <summary>One claimed batch: load, decide, record the begun attempts, send concurrently, store every outcome in
    /// one transaction.</summary>
    internal async Task ProcessAsync(IReadOnlyList<ClaimedNotification> claimed, CancellationToken ct)
    {
        if (claimed.Any(c => c.Notification.Priority == Priority.Critical))
        {
            _pressure.Seen();
        }

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
