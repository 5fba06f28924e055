using Herald.Channels;
using Herald.Channels.Providers;
using Herald.Core.Customers;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Server.Customers;
using Herald.Server.Digests;
using Herald.Server.Hosting;
using Herald.Server.Throttling;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Delivery;

/// <summary>
/// Claims due notifications from the durable queue in batches and moves each one step through the delivery
/// state machine: send, retry, fall back, time out, expire. Several loops overlap sends with database round
/// trips. On shutdown it stops claiming and finishes what it holds; whatever it cannot finish comes back to the
/// queue when its lease ends.
/// </summary>
public sealed class DeliveryWorker(
    IDeliveryStore store,
    INotificationStore notifications,
    ChannelDispatcher dispatcher,
    ReceiptProcessor receipts,
    CustomerCache customers,
    MessageComposer composer,
    IDigestStore digests,
    IThrottleStore throttles,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    IHostApplicationLifetime lifetime,
    HeraldMetrics metrics,
    ILogger<DeliveryWorker> logger) : BackgroundService
{
    private readonly WorkerOptions _options = options.Value;
    private readonly RetryPolicy _retry = new(
        options.Value.MaxAttemptsPerStep, options.Value.RetryBaseDelay, options.Value.RetryMaxDelay, options.Value.OutageRecheck, options.Value.MaxOutageWait);
    private readonly SemaphoreSlim _sendSlots = new(options.Value.MaxConcurrentSends);
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
        _sendSlots.Dispose();
        base.Dispose();
    }

    private async Task LoopAsync(Priority lowestLane, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var claimed = await store.ClaimAsync(_options.ClaimBatch, _options.Lease, time.GetUtcNow(), lowestLane, stoppingToken);
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

    /// <summary>One claimed batch: decide, record attempts, send concurrently, store every outcome in one transaction.</summary>
    internal async Task ProcessAsync(IReadOnlyList<ClaimedNotification> claimed, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var updates = new List<DeliveryUpdate>(claimed.Count);
        var sends = new List<PlannedSend>(claimed.Count);
        var ready = new List<(Notification Notification, DueDecision Decision, List<Attempt> Attempts)>(claimed.Count);
        foreach (var item in claimed)
        {
            var n = item.Notification;
            var attempts = new List<Attempt>();
            if (item.InFlightAttempts.Count > 0)
            {
                // A worker died mid-send: the provider may have the message already. Count it, close the attempt.
                metrics.InFlightResends(item.InFlightAttempts.Count);
                logger.InFlightResend(n.Id, item.InFlightAttempts.Count);
                attempts.AddRange(item.InFlightAttempts.Select(a => a with
                {
                    State = AttemptState.Failed, FailureKind = "transient", ErrorCode = "worker_lost",
                    Error = "The worker holding this send stopped before it recorded the provider's answer.", UpdatedAt = now,
                }));
            }

            var decision = DeliveryStateMachine.OnDue(n, now, channel => dispatcher.IsUsable(n.TenantId, channel), _retry);
            if (decision.TimedOutAttemptId is { } timedOut)
            {
                var awaited = (await notifications.GetAttemptsAsync(n.TenantId, n.Id, ct)).FirstOrDefault(a => a.Id == timedOut);
                if (awaited is not null)
                {
                    attempts.Add(awaited with { State = AttemptState.TimedOut, ErrorCode = "receipt_timeout", Error = "No delivery receipt in time.", UpdatedAt = now });
                }
            }

            attempts.AddRange(decision.Skipped.Select(s => new Attempt
            {
                Id = Guid.CreateVersion7(now), NotificationId = n.Id, Step = s.Step, Channel = s.Channel, State = AttemptState.Failed,
                FailureKind = "permanent", ErrorCode = s.ErrorCode, Error = s.Error, CreatedAt = now, UpdatedAt = now,
            }));

            if (decision.Finish is { } finish)
            {
                updates.Add(new DeliveryUpdate(n.Id, n.Version, finish, attempts));
                if (!n.Status.IsFinal() && finish.Status.IsFinal())
                {
                    metrics.Finished(finish.Status, finish.DeliveredChannel);
                }

                continue;
            }

            ready.Add((n, decision, attempts));
        }

        // Quiet hours are checked here, at send time, not at ingest: a retry or a fallback can land in them.
        var stored = ready.Count == 0 ? [] : await customers.GetManyAsync(
            [.. ready.Select(r => r.Notification.CustomerId is { } id ? (r.Notification.TenantId, id) : ((Guid, string)?)null)], ct);
        for (var i = 0; i < ready.Count; i++)
        {
            var (n, decision, attempts) = ready[i];
            if (n.Route.Digest is { } digest)
            {
                var (collapsed, send) = await DigestWindows.ResolveAsync(digests, n, digest, now, ct);
                if (collapsed is not null)
                {
                    logger.Digested(n.Id);
                    metrics.Finished(NotificationStatus.Suppressed, null);
                    updates.Add(collapsed with { Attempts = [.. attempts, .. collapsed.Attempts] });
                    continue;
                }

                n = send;
            }

            if (CustomerPreferences.HeldUntil(n, stored[i], now) is { } until)
            {
                logger.QuietHoursHeld(n.Id, until);
                updates.Add(new DeliveryUpdate(n.Id, n.Version, DeliveryStateMachine.OnQuietHours(n, decision, until), attempts));
                continue;
            }

            // Counted when it is about to be sent (after quiet hours), so held, expired or cancelled ones never count.
            if (n.Route.Throttle is { } throttle && await Throttles.AdmitAsync(throttles, n, throttle, decision.StepIndex, now, ct) is { } throttled)
            {
                logger.Throttled(n.Id);
                metrics.Finished(NotificationStatus.Suppressed, null);
                updates.Add(throttled with { Attempts = [.. attempts, .. throttled.Attempts] });
                continue;
            }

            var attempt = new Attempt
            {
                Id = Guid.CreateVersion7(now), NotificationId = n.Id, Step = decision.StepIndex, Channel = decision.Send!.Channel,
                State = AttemptState.Sending, CreatedAt = now, UpdatedAt = now,
            };
            sends.Add(new PlannedSend(n, decision.StepIndex, attempt, attempts, stored[i]));
        }

        if (sends.Count > 0)
        {
            await store.BeginAttemptsAsync([.. sends.Select(s => s.Attempt)], ct);
            var outcomes = await Task.WhenAll(sends.Select(s => SendAsync(s, ct)));
            updates.AddRange(outcomes);
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

    private async Task<DeliveryUpdate> SendAsync(PlannedSend send, CancellationToken ct)
    {
        var n = send.Notification;
        var channel = n.Route.Steps[send.Step].Channel;
        var composed = await composer.ComposeAsync(n, channel, send.Customer, ct);
        var message = new OutboundMessage(n.Id, send.Attempt.Id, n.Contacts.AddressFor(channel)!, composed.Text, composed.Template, composed.Subject)
        {
            Priority = n.Priority,
            Html = composed.Html,
        };

        DispatchResult result;
        if (composed.Failure is { } refused)
        {
            // The template broke its limits: this one message cannot go out on this channel; no provider sees it.
            result = new DispatchResult(null, refused);
        }
        else
        {
            // Critical sends do not queue for a slot behind lower ones; the critical lane is small by nature.
            var slotted = n.Priority != Priority.Critical;
            if (slotted)
            {
                await _sendSlots.WaitAsync(ct);
            }

            try
            {
                result = await dispatcher.SendAsync(n.TenantId, channel, message, n.Route.CostPolicy, ct);
            }
            finally
            {
                if (slotted)
                {
                    _sendSlots.Release();
                }
            }
        }

        var now = time.GetUtcNow();
        var outcome = result.Outcome;
        metrics.Attempt(channel, outcome.Kind);
        // A send refused by one account and failed over to another: the refusal is its own attempt in the timeline
        // (the first one keeps the begun attempt's id), and the answering send is a new attempt.
        var failovers = result.Failovers.Select((f, i) => (i == 0 ? send.Attempt : send.Attempt with { Id = f.AttemptId, CreatedAt = f.StartedAt }) with
        {
            ProviderId = f.Provider.Id,
            ProviderName = f.Provider.Name,
            State = AttemptState.Failed,
            FailureKind = "transient",
            ErrorCode = f.Outcome.ErrorCode,
            Error = f.Outcome.Error,
            UpdatedAt = now,
        }).ToList();
        foreach (var _ in failovers)
        {
            metrics.Attempt(channel, SendOutcomeKind.TransientFailure);
        }

        var answered = failovers.Count == 0 ? send.Attempt : send.Attempt with { Id = result.AttemptId ?? Guid.CreateVersion7(now), CreatedAt = result.StartedAt ?? now };
        var attempt = answered with
        {
            ProviderId = result.Provider?.Id,
            ProviderName = result.Provider?.Name,
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

        var transition = DeliveryStateMachine.OnSendOutcome(n, send.Step, attempt.Id, outcome, now, _retry, Random.Shared.NextDouble());
        if (transition.Status.IsFinal())
        {
            metrics.Finished(transition.Status, transition.DeliveredChannel);
        }

        return new DeliveryUpdate(n.Id, n.Version, transition, [.. send.Earlier, .. failovers, attempt]);
    }

    private sealed record PlannedSend(Notification Notification, int Step, Attempt Attempt, List<Attempt> Earlier, Customer? Customer);
}
