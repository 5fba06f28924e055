using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Core.Rules;
using Herald.Server.Digests;
using Herald.Storage;

namespace Herald.Server.Throttling;

/// <summary>
/// Throttles (issue #4 item 7, docs/RULES.md "Throttle"): at ingest a notification a <c>throttle</c> rule applies to
/// gets its group (type, customer and optionally a data value) and limit recorded in its route, at no extra cost; when a
/// worker is about to send it, the group's sends in the sliding window are counted in the database and the notification
/// is either admitted (and counted) or ends <c>suppressed</c> with an attempt coded <c>throttled</c>.
/// </summary>
public static class Throttles
{
    /// <summary>The attempt error code of a notification the throttle kept back.</summary>
    public const string ThrottledCode = "throttled";

    /// <summary>The throttle group: the same grouping as a digest's key (type, customer, optional data value).</summary>
    public static string KeyOf(NewNotification n, ThrottlePolicy policy) => DigestWindows.KeyOf(n, new DigestPolicy(policy.Per, policy.Key));

    /// <summary>Records the throttle in the route; no database work at ingest.</summary>
    public static PreparedNotification Join(PreparedNotification prepared, ThrottlePolicy policy) =>
        prepared with { Route = prepared.Route with { Throttle = new ThrottleMembership(KeyOf(prepared.Request, policy), policy.Max, policy.Per) } };

    /// <summary>Admits the notification to its group's window before it is sent on <paramref name="step"/>, or returns
    /// the update that ends it suppressed as throttled (null: send it).</summary>
    public static async Task<DeliveryUpdate?> AdmitAsync(
        IThrottleStore store, Notification n, ThrottleMembership throttle, int step, DateTimeOffset now, CancellationToken ct)
    {
        if (await store.AdmitAsync(n.TenantId, throttle.Key, n.Id, throttle.Max, throttle.Per, now, ct))
        {
            return null;
        }

        var attempt = new Attempt
        {
            Id = Guid.CreateVersion7(now), NotificationId = n.Id, Step = step, Channel = n.Route.Steps[step].Channel,
            State = AttemptState.Failed, FailureKind = "permanent", ErrorCode = ThrottledCode,
            Error = $"Throttled: {throttle.Max} notifications of this type were already sent to this customer within {Durations.Format(throttle.Per)}.",
            CreatedAt = now, UpdatedAt = now,
        };
        var transition = new Transition(NotificationStatus.Suppressed, n.Progress, null, QueueAction.Remove);
        return new DeliveryUpdate(n.Id, n.Version, transition, [attempt]);
    }

    /// <summary>The dry run's view: the group's sends in the window now, and whether this notification would be
    /// throttled if it were sent now. Counts nothing.</summary>
    public static async Task<ThrottleView?> PreviewAsync(IThrottleStore store, PreparedNotification prepared, DateTimeOffset now, CancellationToken ct)
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
