using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Herald.Channels.Providers;
using Herald.Channels.Providers.RateLimiting;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Server.Observability;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server;

/// <summary>Herald's own instruments, exported on /metrics. docs/OBSERVABILITY.md lists every series, its labels and
/// what to do when it moves. Labels are bounded: channel, priority, lane, provider kind, provider account, outcome and
/// Herald's own reason codes; vendor error codes are cut to <see cref="MaxErrorCodes"/> distinct values; a tenant label
/// only when <see cref="ObservabilityOptions.TenantLabel"/> is on.</summary>
public sealed class HeraldMetrics : IDisposable, IRateLimitMetrics
{
    public const string MeterName = "Herald";

    /// <summary>The most distinct vendor error codes a node labels failures with; later new codes count as <c>other</c>.</summary>
    public const int MaxErrorCodes = 100;

    // Seconds, from a fast provider answer to a message that waited out an outage.
    private static readonly double[] LatencyBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600];
    private static readonly double[] BatchBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
    private static readonly string[] Lanes = ["critical", "high", "normal", "low"];

    private readonly Meter _meter = new(MeterName);
    private readonly bool _tenantLabel;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _finished;
    private readonly Counter<long> _inFlightResends;
    private readonly Counter<long> _webhooks;
    private readonly Counter<long> _webhooksDead;
    private readonly Counter<long> _ratePermits;
    private readonly Counter<long> _rateModeChanges;
    private readonly Histogram<double> _acceptToFirstSend;
    private readonly Histogram<double> _acceptToDelivered;
    private readonly Histogram<double> _receiptDelay;
    private readonly Histogram<double> _webhookDuration;
    private readonly Histogram<long> _claimBatch;
    private readonly UpDownCounter<long> _inFlight;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _expired;
    private readonly Counter<long> _suppressed;
    private readonly Counter<long> _held;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _purged;
    private readonly ConcurrentDictionary<string, string> _errorCodes = new(StringComparer.Ordinal);
    private volatile QueueSample? _queue;
    private Func<IReadOnlyList<ProviderHealth>>? _circuits;
    private Func<bool>? _redisConnected;
    private int _databaseUp = -1;
    private int _rateMode;

    public HeraldMetrics(IOptions<ObservabilityOptions>? options = null)
    {
        _tenantLabel = options?.Value.TenantLabel ?? false;
        _accepted = _meter.CreateCounter<long>("herald.notifications.accepted", description: "Notifications stored (202).");
        _duplicates = _meter.CreateCounter<long>("herald.notifications.duplicates", description: "Submissions answered with an earlier notification (idempotency).");
        _attempts = _meter.CreateCounter<long>("herald.attempts", description: "Sends by channel and outcome.");
        _finished = _meter.CreateCounter<long>("herald.notifications.finished", description: "Notifications reaching a final state.");
        _inFlightResends = _meter.CreateCounter<long>("herald.sends.inflight_resends",
            description: "Sends that were in flight on a worker that stopped, and may reach the customer twice.");
        _webhooks = _meter.CreateCounter<long>("herald.webhooks.sent", description: "Status webhooks sent to banks, by outcome.");
        _webhooksDead = _meter.CreateCounter<long>("herald.webhooks.dead",
            description: "Status webhook deliveries given up after the retry window (dead-lettered).");
        _ratePermits = _meter.CreateCounter<long>("herald.ratelimit.permits",
            description: "Provider rate-limit permits by result (granted, denied), priority and mode (shared, local, recovering).");
        _rateModeChanges = _meter.CreateCounter<long>("herald.ratelimit.mode_changes", description: "Switches of the rate limiter by the mode switched to.");
        _meter.CreateObservableGauge("herald.ratelimit.fallback", () => Volatile.Read(ref _rateMode),
            description: "1 while this node limits provider sends locally (Redis absent or down) or is coming back from that, else 0.");

        _acceptToFirstSend = Seconds("herald.delivery.accept_to_first_send",
            "From accepting a notification to the first provider taking it, by channel and priority.");
        _acceptToDelivered = Seconds("herald.delivery.accept_to_delivered",
            "From accepting a notification to it being delivered (receipt, or a channel whose send is delivery), by channel and priority.");
        _receiptDelay = Seconds("herald.receipt.delay", "From a provider taking a message to its delivery receipt, by channel.");
        _webhookDuration = Seconds("herald.webhook.delivery.duration", "One status webhook request to a bank's endpoint, by outcome.");
        _claimBatch = _meter.CreateHistogram<long>("herald.claim.batch_size", unit: null,
            description: "Notifications per non-empty claim from the queue, by loop (critical, all).",
            tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = BatchBuckets.Select(b => (long)b).ToArray() });
        _inFlight = _meter.CreateUpDownCounter<long>("herald.sends.in_flight", description: "Provider sends this node has started and not yet finished.");
        _fallbacks = _meter.CreateCounter<long>("herald.fallbacks", description: "Notifications moving to a later route step, by from and to channel and reason.");
        _failures = _meter.CreateCounter<long>("herald.send.failures",
            description: "Failed sends by channel, kind (transient, permanent) and error code (Herald's or the vendor's).");
        _expired = _meter.CreateCounter<long>("herald.notifications.expired", description: "Notifications that reached their expiry before delivery, by priority.");
        _suppressed = _meter.CreateCounter<long>("herald.notifications.suppressed",
            description: "Notifications not sent on purpose, by reason (rule, opt_out: at ingest; throttle, digest: at send).");
        _held = _meter.CreateCounter<long>("herald.notifications.held", description: "Sends held back to a later time, by reason (quiet_hours).");
        _purged = _meter.CreateCounter<long>("herald.retention.purged",
            description: "Rows deleted by the retention purge, by table (notifications, attempts, webhook_deliveries).");
        _cost = _meter.CreateCounter<double>("herald.cost",
            description: "Money spent on accepted sends, from the provider's answer or the account's price table, by channel, provider and currency.");
        _meter.CreateObservableGauge("herald.queue.depth", ObserveDepth,
            description: "Queued notifications per lane, counted up to Herald:Observability:QueueDepthCap, sampled every QueueSampleInterval.");
        _meter.CreateObservableGauge("herald.queue.oldest_due_age", ObserveOldestDue, unit: "s",
            description: "Age of the earliest due queue entry per lane (0 when nothing in the lane is due yet).");
        _meter.CreateObservableGauge("herald.dependency.up", ObserveDependencies,
            description: "1 while a dependency answers this node, else 0: database (checked every QueueSampleInterval), redis (when configured).");
        _meter.CreateObservableGauge("herald.provider.circuit_state", ObserveCircuits,
            description: "Circuit of each provider account as this node sees it: 0 closed, 1 half-open, 2 open, 3 isolated.");
    }

    /// <summary>The group commit stored <paramref name="items"/> (same order as <paramref name="results"/>).</summary>
    public void Accepted(IReadOnlyList<PreparedNotification> items, IReadOnlyList<AcceptResult> results)
    {
        var created = 0;
        for (var i = 0; i < results.Count; i++)
        {
            if (!results[i].Created)
            {
                continue;
            }

            created++;
            if (i < items.Count && items[i].Suppressed)
            {
                // The planner leaves no route step when the customer opted out of every channel; else a rule suppressed it.
                Suppressed(items[i].Route.Steps.Count == 0 ? "opt_out" : "rule");
            }
        }

        _accepted.Add(created);
        _duplicates.Add(results.Count - created);
    }

    public void Attempt(Channel channel, SendOutcomeKind outcome) =>
        _attempts.Add(1, new("channel", Name(channel)), new("outcome", outcome.ToString()));

    public void Finished(NotificationStatus status, Channel? channel) =>
        _finished.Add(1, new("status", status.ToString().ToLowerInvariant()), new("channel", channel is { } c ? Name(c) : "none"));

    public void InFlightResends(int count) => _inFlightResends.Add(count);

    /// <summary>One webhook request finished (answered or not) after <paramref name="duration"/>.</summary>
    public void WebhookSent(bool succeeded, TimeSpan duration)
    {
        var outcome = new KeyValuePair<string, object?>("outcome", succeeded ? "succeeded" : "failed");
        _webhooks.Add(1, outcome);
        _webhookDuration.Record(duration.TotalSeconds, outcome);
    }

    public void WebhookDead() => _webhooksDead.Add(1);

    public void Permit(Priority priority, RateLimitMode mode, bool granted) =>
        _ratePermits.Add(1, new("result", granted ? "granted" : "denied"), new("priority", Name(priority)),
            new("mode", mode.ToString().ToLowerInvariant()));

    public void ModeChanged(RateLimitMode mode)
    {
        Volatile.Write(ref _rateMode, mode == RateLimitMode.Shared ? 0 : 1);
        _rateModeChanges.Add(1, new KeyValuePair<string, object?>("mode", mode.ToString().ToLowerInvariant()));
    }

    /// <summary>A claim handed a loop <paramref name="count"/> notifications (empty claims are not recorded).</summary>
    public void Claimed(int count, Priority lowestLane)
    {
        if (count > 0)
        {
            _claimBatch.Record(count, new KeyValuePair<string, object?>("loop", lowestLane == Priority.Critical ? "critical" : "all"));
        }
    }

    /// <summary>A provider send started (+1) or ended (-1).</summary>
    public void SendInFlight(int delta) => _inFlight.Add(delta);

    /// <summary>What one dispatch to the providers came back with: failures (each failed-over try too) and cost.</summary>
    public void Dispatched(Channel channel, DispatchResult result)
    {
        foreach (var tried in result.Failovers)
        {
            Outcome(channel, tried.Provider, tried.Outcome);
        }

        Outcome(channel, result.Provider, result.Outcome);
    }

    /// <summary>A send was composed but refused before any provider saw it (the template broke its limits).</summary>
    public void Refused(Channel channel, SendOutcome outcome) => Outcome(channel, null, outcome);

    /// <summary>
    /// A stored notification (<paramref name="before"/>) is about to take <paramref name="update"/>: records the
    /// accept-to-delivered latency, expiries and fallbacks. Call once per update the ledger or a receipt produced.
    /// </summary>
    public void Transition(Notification before, DeliveryUpdate update, DateTimeOffset now)
    {
        var after = update.Transition;
        if (before.Status.IsFinal())
        {
            return;
        }

        if (after.Status == NotificationStatus.Delivered)
        {
            var channel = after.DeliveredChannel ?? before.Route.Steps[Math.Min(after.Progress.Step, before.Route.Steps.Count - 1)].Channel;
            _acceptToDelivered.Record(Seconds(now - before.CreatedAt), Latency(channel, before));
        }
        else if (after.Status == NotificationStatus.Expired)
        {
            _expired.Add(1, new KeyValuePair<string, object?>("priority", Name(before.Priority)));
        }

        var from = before.Progress.Step;
        var to = after.Progress.Step;
        // A fallback that ends the notification at once (delivered on a step whose send is delivery) counts too.
        if (to > from && to < before.Route.Steps.Count)
        {
            _fallbacks.Add(1, new("from", Name(before.Route.Steps[from].Channel)), new("to", Name(before.Route.Steps[to].Channel)),
                new("reason", FallbackReason(update.Attempts, to)));
        }
    }

    /// <summary>
    /// A send of <paramref name="before"/> (its stored state) on <paramref name="step"/> came back with
    /// <paramref name="outcome"/>: records accept → first send when a provider took it and nothing was sent before.
    /// "Nothing sent before" is read from the stored state alone (no attempt history is loaded for metrics): never
    /// touched since ingest, or still on the first route step without an attempt awaiting its receipt — a step-0
    /// send a provider took either delivered (final), awaits its receipt, or moved past step 0 when it failed.
    /// A send after a fallback is not a first send; it shows in accept → delivered.
    /// </summary>
    public void Sent(Notification before, int step, SendOutcome outcome, DateTimeOffset now)
    {
        if (outcome.Kind is SendOutcomeKind.Accepted or SendOutcomeKind.Delivered
            && (before.Status == NotificationStatus.Accepted || before.Progress is { Step: 0, AwaitedAttemptId: null }))
        {
            _acceptToFirstSend.Record(Seconds(now - before.CreatedAt), Latency(before.Route.Steps[step].Channel, before));
        }
    }

    /// <summary>A delivery receipt came for an attempt a provider took at <paramref name="sentAt"/>.</summary>
    public void Receipt(Channel channel, DateTimeOffset sentAt, DateTimeOffset deliveredAt) =>
        _receiptDelay.Record(Seconds(deliveredAt - sentAt), new KeyValuePair<string, object?>("channel", Name(channel)));

    /// <summary>A provider's receipt said an accepted message failed (permanent: it does not come back).</summary>
    public void ReceiptFailed(Channel channel, string? errorCode) =>
        _failures.Add(1, new("channel", Name(channel)), new("kind", "permanent"), new("code", ErrorCode(errorCode)));

    /// <summary>Notifications not sent on purpose at send time (throttle, digest).</summary>
    public void Suppressed(string reason) => _suppressed.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>What one retention purge batch deleted.</summary>
    public void Purged(Herald.Storage.PurgedRows rows)
    {
        Add(rows.Notifications, "notifications");
        Add(rows.Attempts, "attempts");
        Add(rows.WebhookDeliveries, "webhook_deliveries");

        void Add(int count, string table)
        {
            if (count > 0)
            {
                _purged.Add(count, new KeyValuePair<string, object?>("table", table));
            }
        }
    }

    public void Held(string reason) => _held.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>The queue sampler's latest figures, reported by the queue gauges until the next sample.</summary>
    public void QueueSampled(IReadOnlyList<QueueLaneSample> lanes, DateTimeOffset at) => _queue = new QueueSample(lanes, at);

    /// <summary>Where the circuit gauge reads the provider accounts' states from (the node's dispatcher).</summary>
    public void ObserveCircuits(Func<IReadOnlyList<ProviderHealth>> health) => _circuits = health;

    /// <summary>Whether the database answered the sampler's last check.</summary>
    public void DatabaseAnswered(bool up) => Volatile.Write(ref _databaseUp, up ? 1 : 0);

    /// <summary>Where the dependency gauge reads Redis's connection state from (only when Redis is configured).</summary>
    public void ObserveRedis(Func<bool> connected) => _redisConnected = connected;

    public void Dispose() => _meter.Dispose();

    private Histogram<double> Seconds(string name, string description) =>
        _meter.CreateHistogram<double>(name, unit: "s", description: description,
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });

    private static double Seconds(TimeSpan span) => span < TimeSpan.Zero ? 0 : span.TotalSeconds;

    private TagList Latency(Channel channel, Notification n)
    {
        var tags = new TagList { { "channel", Name(channel) }, { "priority", Name(n.Priority) } };
        if (_tenantLabel)
        {
            tags.Add("tenant", n.TenantId.ToString());
        }

        return tags;
    }

    private void Outcome(Channel channel, ProviderAccount? provider, SendOutcome outcome)
    {
        switch (outcome.Kind)
        {
            case SendOutcomeKind.TransientFailure or SendOutcomeKind.PermanentFailure:
                _failures.Add(1, new("channel", Name(channel)),
                    new("kind", outcome.Kind == SendOutcomeKind.PermanentFailure ? "permanent" : "transient"), new("code", ErrorCode(outcome.ErrorCode)));
                break;
            case SendOutcomeKind.Accepted or SendOutcomeKind.Delivered when outcome.Cost is { } cost && cost > 0 && provider is not null:
                _cost.Add((double)cost, new("channel", Name(channel)), new("provider", provider.Kind), new("currency", provider.Prices?.Currency ?? "unknown"));
                break;
        }
    }

    /// <summary>A vendor's error code as a label: lower case, safe characters, at most 40 of them, and no more than
    /// <see cref="MaxErrorCodes"/> distinct values per node (a vendor inventing codes must not grow the series without end).</summary>
    private string ErrorCode(string? code)
    {
        if (string.IsNullOrEmpty(code))
        {
            return "none";
        }

        if (_errorCodes.TryGetValue(code, out var known))
        {
            return known;
        }

        if (_errorCodes.Count >= MaxErrorCodes)
        {
            return "other";
        }

        var clean = new string([.. code.Take(40).Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' ? char.ToLowerInvariant(c) : '_')]);
        return _errorCodes.GetOrAdd(code, clean);
    }

    private static string FallbackReason(IReadOnlyList<Attempt> attempts, int toStep)
    {
        for (var i = attempts.Count - 1; i >= 0; i--)
        {
            var a = attempts[i];
            if (a.Step < toStep && a.State is AttemptState.Failed or AttemptState.TimedOut)
            {
                return a.ErrorCode switch
                {
                    "receipt_timeout" or "no_address" or "no_healthy_provider" => a.ErrorCode,
                    _ when a.State == AttemptState.TimedOut => "receipt_timeout",
                    _ => a.FailureKind == "permanent" ? "permanent_failure" : "retries_exhausted",
                };
            }
        }

        return "other";
    }

    private IEnumerable<Measurement<long>> ObserveDepth()
    {
        if (_queue is not { } sample)
        {
            yield break;
        }

        foreach (var lane in sample.Lanes)
        {
            yield return new Measurement<long>(lane.Depth, new KeyValuePair<string, object?>("lane", Lanes[(int)lane.Lane]));
        }
    }

    private IEnumerable<Measurement<double>> ObserveOldestDue()
    {
        if (_queue is not { } sample)
        {
            yield break;
        }

        foreach (var lane in sample.Lanes)
        {
            var age = lane.OldestDue is { } due ? Seconds(sample.At - due) : 0;
            yield return new Measurement<double>(age, new KeyValuePair<string, object?>("lane", Lanes[(int)lane.Lane]));
        }
    }

    private IEnumerable<Measurement<int>> ObserveDependencies()
    {
        if (Volatile.Read(ref _databaseUp) is var database and >= 0)
        {
            yield return new Measurement<int>(database, new KeyValuePair<string, object?>("dependency", "database"));
        }

        if (_redisConnected is { } redis)
        {
            yield return new Measurement<int>(redis() ? 1 : 0, new KeyValuePair<string, object?>("dependency", "redis"));
        }
    }

    private IEnumerable<Measurement<int>> ObserveCircuits()
    {
        if (_circuits is not { } health)
        {
            yield break;
        }

        foreach (var account in health())
        {
            yield return new Measurement<int>((int)account.State,
                new("channel", Name(account.Channel)), new("provider", account.Kind), new("account", account.AccountId.ToString()));
        }
    }

    private static string Name(Channel channel) => channel.ToString().ToLowerInvariant();

    /// <summary>One queue sample and when it was taken, swapped in whole so a scrape never mixes two samples.</summary>
    private sealed record QueueSample(IReadOnlyList<QueueLaneSample> Lanes, DateTimeOffset At);

    private static string Name(Priority priority) => priority.ToString().ToLowerInvariant();
}
