using Herald.Core.Notifications;
using Herald.Core.Planning;
using Herald.Storage.Secrets;

namespace Herald.Server.Notifications;

/// <summary>
/// Digest and throttle group keys at rest (issue #17): the planner keys a group by type, customer (the inline phone or
/// email when there is no stored customer) and a data value, and that key is stored in the notification's route and in
/// the digest and throttle tables. Before anything stores it, it becomes the tenant's keyed hash
/// (<see cref="ContactHash.Group"/>): groups stay equal for equal keys, and no table holds the contact. Every path that
/// stores or counts a group goes through here (ingest, the keyword answers, the rules dry run's throttle count).
/// </summary>
public sealed class GroupKeys(TenantKeys keys)
{
    /// <summary>The plan with its digest key and its route's throttle key hashed; a plan with neither is answered as is.</summary>
    public async ValueTask<NotificationPlan> SealAsync(NotificationPlan plan, CancellationToken ct)
    {
        if (plan.Prepared is not { } prepared || (plan.Digest is null && prepared.Route.Throttle is null))
        {
            return plan;
        }

        var tenantKeys = await keys.ForWriteAsync(prepared.Request.TenantId, ct);
        return plan with
        {
            Prepared = Seal(tenantKeys, prepared),
            Digest = plan.Digest is { } digest ? digest with { Key = ContactHash.Group(tenantKeys, digest.Key) } : null,
        };
    }

    /// <summary>The notification with its route's throttle key (and a joined digest's key) hashed.</summary>
    public async ValueTask<PreparedNotification> SealAsync(PreparedNotification prepared, CancellationToken ct) =>
        prepared.Route.Throttle is null && prepared.Route.Digest is null
            ? prepared
            : Seal(await keys.ForWriteAsync(prepared.Request.TenantId, ct), prepared);

    private static PreparedNotification Seal(TenantKeySet tenantKeys, PreparedNotification prepared)
    {
        var route = prepared.Route;
        if (route.Throttle is { } throttle)
        {
            route = route with { Throttle = throttle with { Key = ContactHash.Group(tenantKeys, throttle.Key) } };
        }

        if (route.Digest is { } digest)
        {
            route = route with { Digest = digest with { Key = ContactHash.Group(tenantKeys, digest.Key) } };
        }

        return prepared with { Route = route };
    }
}
