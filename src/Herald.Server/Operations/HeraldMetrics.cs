using System.Diagnostics.Metrics;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Storage;

namespace Herald.Server;

/// <summary>Herald's own instruments, exported on /metrics.</summary>
public sealed class HeraldMetrics : IDisposable
{
    public const string MeterName = "Herald";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _finished;
    private readonly Counter<long> _inFlightResends;
    private readonly Counter<long> _webhooks;

    public HeraldMetrics()
    {
        _accepted = _meter.CreateCounter<long>("herald.notifications.accepted", description: "Notifications stored (202).");
        _duplicates = _meter.CreateCounter<long>("herald.notifications.duplicates", description: "Submissions answered with an earlier notification (idempotency).");
        _attempts = _meter.CreateCounter<long>("herald.attempts", description: "Sends by channel and outcome.");
        _finished = _meter.CreateCounter<long>("herald.notifications.finished", description: "Notifications reaching a final state.");
        _inFlightResends = _meter.CreateCounter<long>("herald.sends.inflight_resends",
            description: "Sends that were in flight on a worker that stopped, and may reach the customer twice.");
        _webhooks = _meter.CreateCounter<long>("herald.webhooks.sent", description: "Status webhooks sent to banks, by outcome.");
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

    public void Dispose() => _meter.Dispose();
}
