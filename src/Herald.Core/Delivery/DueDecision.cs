using System.Text.Json.Nodes;
using Herald.Core.Customers;
using Herald.Core.Notifications;

namespace Herald.Core.Delivery;

/// <summary>What the worker loaded for one due notification, for <see cref="DueDecisions.Decide"/>.</summary>
/// <param name="Choice">The state machine's step choice (<see cref="DeliveryStateMachine.OnDue"/>), which says what to load.</param>
/// <param name="InFlight">Attempts a lost worker left in state sending (the claim returns them).</param>
/// <param name="Awaited">The attempt whose receipt timed out (<see cref="StepChoice.TimedOutAttemptId"/>), when it was found.</param>
/// <param name="Customer">The stored customer, for quiet hours and composing; null without one.</param>
/// <param name="DigestMembers">For a digest member about to be sent: its window's stored members, oldest first.</param>
public sealed record DueContext(
    Notification Notification,
    StepChoice Choice,
    IReadOnlyList<Attempt> InFlight,
    Attempt? Awaited = null,
    Customer? Customer = null,
    IReadOnlyList<Guid>? DigestMembers = null);

/// <summary>
/// What the worker does with one claimed notification (SPEC §2): finish or wait without a send, hold it until the
/// customer's quiet hours end, collapse it into its digest, suppress it as throttled, or send it now. Every case but
/// <see cref="SendNow"/> carries the update to store; a send's update comes from <see cref="AttemptLedger.Sent"/>.
/// </summary>
public abstract record DueDecision
{
    private DueDecision()
    {
    }

    /// <summary>No send: a final state (expired, failed, already final) or a wait for a provider to recover.</summary>
    public sealed record Finish(DeliveryUpdate Update) : DueDecision;

    /// <summary>Quiet hours hold the send back until <paramref name="Until"/>; no attempt.</summary>
    public sealed record HoldUntil(DateTimeOffset Until, DeliveryUpdate Update) : DueDecision;

    /// <summary>A digest member that is not its window's newest: suppressed as <c>digested</c>.</summary>
    public sealed record Collapsed(Guid SentInstead, DeliveryUpdate Update) : DueDecision;

    /// <summary>The throttle group's window is full: suppressed as <c>throttled</c>.</summary>
    public sealed record Throttled(DeliveryUpdate Update) : DueDecision;

    /// <summary>Send <paramref name="Notification"/> (with a digest's data, when it is one) on <paramref name="Step"/>.
    /// With a throttle in its route the worker first asks for admission (<see cref="DueDecisions.Admitted"/>).</summary>
    /// <param name="Earlier">Attempts closed before the send (lost worker, receipt timeout, skipped steps).</param>
    public sealed record SendNow(Notification Notification, int Step, Customer? Customer, IReadOnlyList<Attempt> Earlier) : DueDecision;

    /// <summary>The update to store, or null for <see cref="SendNow"/>.</summary>
    public DeliveryUpdate? ToStore() => this switch
    {
        Finish f => f.Update,
        HoldUntil h => h.Update,
        Collapsed c => c.Update,
        Throttled t => t.Update,
        _ => null,
    };
}

/// <summary>The delivery decision, pure: from what was claimed and loaded to a <see cref="DueDecision"/>.</summary>
public static class DueDecisions
{
    /// <summary>Decides one due notification. Order matters: the state machine first (expiry, fallback, outages),
    /// then the digest (a collapsed member never waits for quiet hours), then quiet hours, checked at send time
    /// because a retry or a fallback can land in them; the throttle last (<see cref="Admitted"/>), so held, expired,
    /// cancelled or digested notifications never count.</summary>
    public static DueDecision Decide(DueContext context, DateTimeOffset now)
    {
        var (n, choice) = (context.Notification, context.Choice);
        var earlier = new List<Attempt>(AttemptLedger.WorkerLost(context.InFlight, now));
        if (choice.TimedOutAttemptId is not null && context.Awaited is { } awaited)
        {
            earlier.Add(AttemptLedger.TimedOut(awaited, now));
        }

        earlier.AddRange(choice.Skipped.Select(s => AttemptLedger.Skipped(n, s, now)));
        if (choice.Finish is { } finish)
        {
            return new DueDecision.Finish(new DeliveryUpdate(n.Id, n.Version, finish, earlier));
        }

        // A member whose join was lost (it cannot be, short of a manual delete) is sent on its own rather than dropped.
        if (n.Route.Digest is not null && context.DigestMembers is { } members && members.Contains(n.Id))
        {
            var latest = members[^1];
            if (latest != n.Id)
            {
                return new DueDecision.Collapsed(latest, AttemptLedger.Digested(n, latest, earlier, now));
            }

            n = n with { DataJson = WithDigest(n.DataJson, members) };
        }

        if (CustomerPreferences.HeldUntil(n, context.Customer, now) is { } until)
        {
            return new DueDecision.HoldUntil(until, new DeliveryUpdate(n.Id, n.Version, DeliveryStateMachine.OnQuietHours(n, choice, until), earlier));
        }

        return new DueDecision.SendNow(n, choice.StepIndex, context.Customer, earlier);
    }

    /// <summary>The throttle's answer for a send: admitted, it is sent; refused, it ends suppressed as throttled.</summary>
    public static DueDecision Admitted(DueDecision.SendNow send, bool admitted, DateTimeOffset now) =>
        admitted || send.Notification.Route.Throttle is not { } throttle
            ? send
            : new DueDecision.Throttled(AttemptLedger.Throttled(send.Notification, send.Step, throttle, send.Earlier, now));

    /// <summary>The sent member's data: <c>data.digest.count</c> and <c>data.digest.items</c> (member ids, oldest first).</summary>
    public static string WithDigest(string dataJson, IReadOnlyList<Guid> members)
    {
        var data = JsonNode.Parse(dataJson) as JsonObject ?? [];
        var items = new JsonArray();
        foreach (var id in members)
        {
            items.Add(id.ToString());
        }

        data["digest"] = new JsonObject { ["count"] = members.Count, ["items"] = items };
        return data.ToJsonString();
    }
}
