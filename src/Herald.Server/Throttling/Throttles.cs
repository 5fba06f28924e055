using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Rules;
using Herald.Storage;

namespace Herald.Server.Throttling;

/// <summary>
/// Throttles (issue #4 item 7, docs/RULES.md "Throttle"): the only Server class that touches throttle groups. At ingest
/// the planner records the group and limit in the route at no cost (no I/O, so nothing here); when the worker is about
/// to send, the group's sends in the sliding window are counted in the database and the notification is either
/// admitted (and counted) or ends <c>suppressed</c> as <c>throttled</c> (<see cref="DueDecisions.Admitted"/>).
/// </summary>
public sealed class Throttles(IThrottleStore store)
{
    /// <summary>Admits a send to its group's window; the send itself, or the throttled decision when the window is full.</summary>
    public async Task<DueDecision> AdmitAsync(DueDecision.SendNow send, DateTimeOffset now, CancellationToken ct)
    {
        var n = send.Notification;
        if (n.Route.Throttle is not { } throttle)
        {
            return send;
        }

        var admitted = await store.AdmitAsync(n.TenantId, throttle.Key, n.Id, throttle.Max, throttle.Per, now, ct);
        return DueDecisions.Admitted(send, admitted, now);
    }

    /// <summary>The dry run's view: the group's sends in the window now, and whether this notification would be
    /// throttled if it were sent now. Counts nothing.</summary>
    public async Task<ThrottleView?> PreviewAsync(PreparedNotification prepared, DateTimeOffset now, CancellationToken ct)
    {
        if (prepared.Suppressed || prepared.Route.Throttle is not { } throttle)
        {
            return null;
        }

        var sent = await store.CountAsync(prepared.Request.TenantId, throttle.Key, throttle.Per, now, ct);
        return new ThrottleView(throttle.Max, Durations.Format(throttle.Per), sent, sent >= throttle.Max);
    }
}

/// <summary>The throttle in force for a dry-run notification.</summary>
/// <param name="SentInWindow">Sends of its group (tenant, type, customer, optional key) in the last <paramref name="Per"/>.</param>
/// <param name="WouldThrottle">Sent now, it would be suppressed as <c>throttled</c>.</param>
public sealed record ThrottleView(int Max, string Per, int SentInWindow, bool WouldThrottle);
