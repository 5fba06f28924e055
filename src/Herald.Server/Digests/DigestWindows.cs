using Herald.Core.Notifications;
using Herald.Core.Planning;
using Herald.Storage;

namespace Herald.Server.Digests;

/// <summary>
/// Digests (issue #4 item 7, docs/RULES.md): the only Server class that touches digest windows, at ingest and at
/// send. The decisions are Core's: the planner keys the window (<see cref="GroupKey"/>) and
/// <see cref="Herald.Core.Delivery.DueDecisions"/> collapses or sends a member that came due; this class does their
/// I/O. Notification types no digest rule names never reach it.
/// </summary>
public sealed class DigestWindows(IDigestStore store)
{
    /// <summary>Ingest: joins the notification's digest window (one atomic round trip, opening a window when none is
    /// open) and returns it held until the window closes.</summary>
    public async Task<PreparedNotification> JoinAsync(NotificationPlan plan, DateTimeOffset now, CancellationToken ct)
    {
        var (prepared, join) = (plan.Prepared!, plan.Digest!);
        var closes = await store.JoinAsync(prepared.Request.TenantId, join.Key, prepared.Id, now, join.Window, ct);
        return plan.JoinedDigest(closes);
    }

    /// <summary>Send: the stored members of the window <paramref name="n"/> joined, oldest first; null when it joined none.</summary>
    public async Task<IReadOnlyList<Guid>?> MembersAsync(Notification n, CancellationToken ct) =>
        n.Route.Digest is { } digest ? await store.MembersAsync(n.TenantId, digest.Key, digest.ClosesAt, ct) : null;
}
