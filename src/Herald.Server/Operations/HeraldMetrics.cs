using System.Diagnostics.Metrics;
using Herald.Channels.Providers.RateLimiting;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Storage;

namespace Herald.Server;

/// <summary>Herald's own instruments, exported on /metrics.</summary>
public sealed class HeraldMetrics : IDisposable, IRateLimitMetrics
{
    public const string MeterName = "Herald";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _finished;
    private readonly Counter<long> _inFlightResends;
    private readonly Counter<long> _webhooks;
    private readonly Counter<long> _ratePermits;
    private readonly Counter<long> _rateModeChanges;
    private int _rateMode;

    public HeraldMetrics()
    {
        _accepted = _meter.CreateCounter<long>("herald.notifications.accepted", description: "Notifications stored (202).");
        _duplicates = _meter.CreateCounter<long>("herald.notifications.duplicates", description: "Submissions answered with an earlier notification (idempotency).");
        _attempts = _meter.CreateCounter<long>("herald.attempts", description: "Sends by channel and outcome.");
        _finished = _meter.CreateCounter<long>("herald.notifications.finished", description: "Notifications reaching a final state.");
        _inFlightResends = _meter.CreateCounter<long>("herald.sends.inflight_resends",
            description: "Sends that were in flight on a worker that stopped, and may reach the customer twice.");
        _webhooks = _meter.CreateCounter<long>("herald.webhooks.sent", description: "Status webhooks sent to banks, by outcome.");
        _ratePermits = _meter.CreateCounter<long>("herald.ratelimit.permits",
            description: "Provider rate-limit permits by result (granted, denied), priority and mode (shared, local, recovering).");
        _rateModeChanges = _meter.CreateCounter<long>("herald.ratelimit.mode_changes", description: "Switches of the rate limiter by the mode switched to.");
        _meter.CreateObservableGauge("herald.ratelimit.fallback", () => Volatile.Read(ref _rateMode),
            description: "1 while this node limits provider sends locally (Redis absent or down) or is coming back from that, else 0.");
    }

    public void Accepted(IReadOnlyList<AcceptResult> results)
    {
        var created = 0;
        foreach (var r in results)
        {
            created += r.Created ? 1 : 0;
        }

        _accepted.Add(created);
        _duplicates.Add(results.Count - created);
    }

    public void Attempt(Channel channel, SendOutcomeKind outcome) =>
        _attempts.Add(1, new("channel", channel.ToString().ToLowerInvariant()), new("outcome", outcome.ToString()));

    public void Finished(NotificationStatus status, Channel? channel) =>
        _finished.Add(1, new("status", status.ToString().ToLowerInvariant()), new("channel", channel?.ToString().ToLowerInvariant() ?? "none"));

    public void InFlightResends(int count) => _inFlightResends.Add(count);

    public void WebhookSent(bool succeeded) => _webhooks.Add(1, new KeyValuePair<string, object?>("outcome", succeeded ? "succeeded" : "failed"));
    public void Permit(Priority priority, RateLimitMode mode, bool granted) =>
        _ratePermits.Add(1, new("result", granted ? "granted" : "denied"), new("priority", priority.ToString().ToLowerInvariant()),
            new("mode", mode.ToString().ToLowerInvariant()));

    public void ModeChanged(RateLimitMode mode)
    {
        Volatile.Write(ref _rateMode, mode == RateLimitMode.Shared ? 0 : 1);
        _rateModeChanges.Add(1, new KeyValuePair<string, object?>("mode", mode.ToString().ToLowerInvariant()));
    }

    public void Dispose() => _meter.Dispose();
}
