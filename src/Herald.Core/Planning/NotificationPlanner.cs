using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Core.Rules;

namespace Herald.Core.Planning;

/// <summary>A notification the planner refuses: it names an unknown customer and carries no contact.</summary>
/// <param name="Pointer">Where the error is, relative to the notification (e.g. <c>/customer/id</c>).</param>
public sealed record PlanError(string Pointer, string Detail);

/// <summary>The digest window a planned notification must join before it is stored (a rule's <c>digest</c>): the one
/// database round trip planning cannot do itself. <see cref="NotificationPlan.JoinedDigest"/> applies its answer.</summary>
public sealed record DigestJoin(string Key, TimeSpan Window);

/// <summary>The planner's answer for one notification: what to store, or why it cannot be accepted.</summary>
/// <param name="Prepared">The notification to store; null when <paramref name="Error"/> is set.</param>
/// <param name="Digest">Set when a digest rule applies: join its window, then store <see cref="JoinedDigest"/>.</param>
public sealed record NotificationPlan(PreparedNotification? Prepared, PlanError? Error, DigestJoin? Digest = null)
{
    /// <summary>The notification once it joined its digest window closing at <paramref name="closesAt"/>: held until
    /// the window closes (or its own delay, if later), its window recorded in the route for the worker.</summary>
    public PreparedNotification JoinedDigest(DateTimeOffset closesAt)
    {
        var prepared = Prepared ?? throw new InvalidOperationException("A refused notification joins no digest.");
        var digest = Digest ?? throw new InvalidOperationException("No digest rule applies to this notification.");
        return prepared with
        {
            Route = prepared.Route with { Digest = new DigestMembership(digest.Key, closesAt) },
            NotBefore = prepared.NotBefore is { } notBefore && notBefore > closesAt ? notBefore : closesAt,
        };
    }
}

/// <summary>
/// Plans one accepted notification (SPEC §2–3): the stored customer is merged once (inline contacts win field by
/// field; its fields are what rules see), the tenant's rules decide (route, suppress, delay, TTL, masks, digest,
/// throttle, opt-out policy), the customer's preferences shape the plan (opt-outs, preferred channel), and the digest
/// and throttle groups are keyed. Pure: real ingest (<see cref="Plan"/>) and the rules dry run (<see cref="Explain"/>)
/// share every step, so they cannot disagree. A customer opted out of every channel of the plan gets the notification
/// stored as suppressed: the bank sees it, nobody is contacted.
/// </summary>
/// <param name="fallback">The default route (SPEC §2) the rules start from.</param>
/// <param name="optOutExemptTypes">Types that ignore opt-outs when no rule of the tenant decides (the node's fallback).</param>
/// <param name="onError">Told about rules that failed at run time on the ingest path, for logs and metrics.</param>
public sealed class NotificationPlanner(
    DefaultRouter fallback, IEnumerable<string> optOutExemptTypes, Action<RuleRuntimeError>? onError = null)
{
    private readonly HashSet<string> _exempt = new(optOutExemptTypes, StringComparer.Ordinal);

    /// <summary>The ingest plan of <paramref name="request"/> under <paramref name="rules"/> (null: the tenant has none).</summary>
    /// <param name="customer">The stored customer the request names, null when it names none or an unknown one.</param>
    /// <param name="consents">The tenant's consent ledger view (issue #16): steps whose address opted out are dropped
    /// like the stored customer's opt-outs; null: none.</param>
    public NotificationPlan Plan(
        Guid id, NewNotification request, Customer? customer, CompiledRuleSet? rules, DateTimeOffset now, ConsentOptOuts? consents = null)
    {
        if (Refusal(request, customer) is { } error)
        {
            return new NotificationPlan(null, error);
        }

        var merged = Merge(request, customer);
        var outcome = (rules ?? CompiledRuleSet.Empty).DecideAll(Context(merged, customer, now), fallback, onError);
        return Finish(id, request, merged, customer, outcome, now, consents);
    }

    /// <summary>The dry run: the same plan as <see cref="Plan"/>, with the rules' full evaluation (matched rules, who
    /// decided what, run-time errors). Evaluation is null when the request is refused.</summary>
    public (NotificationPlan Plan, RuleEvaluation? Evaluation) Explain(
        NewNotification request, Customer? customer, CompiledRuleSet? rules, DateTimeOffset now, ConsentOptOuts? consents = null)
    {
        if (Refusal(request, customer) is { } error)
        {
            return (new NotificationPlan(null, error), null);
        }

        var merged = Merge(request, customer);
        var evaluation = (rules ?? CompiledRuleSet.Empty).Evaluate(Context(merged, customer, now), fallback);
        return (Finish(Guid.Empty, request, merged, customer, RuleOutcome.Of(evaluation), now, consents), evaluation);
    }

    /// <summary>Whether opt-outs are ignored for <paramref name="type"/>: the rules decide, else the node's list.</summary>
    public bool IgnoresOptOuts(string type, OptOutPolicy? optOuts) =>
        optOuts is { } policy ? policy == OptOutPolicy.Ignore : _exempt.Contains(type);

    private NotificationPlan Finish(
        Guid id, NewNotification original, NewNotification merged, Customer? customer, RuleOutcome outcome, DateTimeOffset now,
        ConsentOptOuts? consents)
    {
        var request = merged;
        if (outcome.Mask is { Count: > 0 } mask)
        {
            request = request with { DataJson = DataMasking.Apply(request.DataJson, mask) };
        }

        if (outcome.Ttl is { } ttl && (request.ExpiresAt is null || now + ttl < request.ExpiresAt))
        {
            request = request with { ExpiresAt = now + ttl };
        }

        // Herald's own answer to a keyword (the STOP confirmation carriers expect) is the one send that ignores opt-outs
        // without the bank deciding it; the bank cannot ask for that (the flag is not part of the API).
        var ignoreOptOuts = request.IgnoresOptOuts || IgnoresOptOuts(request.Type, outcome.OptOuts);
        var route = customer is null
            ? outcome.Route
            : CustomerPreferences.Apply(outcome.Route, customer, request.Type, ignoreOptOuts);
        if (!ignoreOptOuts && consents is not null)
        {
            // The consent ledger: by address, whether or not a stored customer is named (its contacts are merged in).
            route = consents.Apply(route, request.Contacts, request.Type);
        }

        // Reply choices (issue #16): the request's own, else a rule's. WhatsApp shows a button title of at most 20
        // characters, which only the plan knows applies; a rule's longer titles fall back to text there instead.
        if (request.Actions.Count == 0 && outcome.ReplyActions is { Count: > 0 } ruleActions)
        {
            request = request with { Actions = ruleActions };
        }
        else if (original.Actions.Count > 0 && route.Steps.Any(static s => s.Channel == Channel.WhatsApp)
            && ReplyActions.Check(original.Actions, whatsApp: true) is [var tooLong, ..])
        {
            return new NotificationPlan(null, new PlanError("/actions" + tooLong.Pointer, tooLong.Detail));
        }

        var optedOutOfAll = outcome.Route.Steps.Count > 0 && route.Steps.Count == 0;
        var suppressed = outcome.Suppress || optedOutOfAll;
        // Suppressed notifications never join a digest nor count in a throttle: they are never sent.
        DigestJoin? digest = null;
        if (!suppressed && outcome.Digest is { } d)
        {
            digest = new DigestJoin(GroupKey.Of(request, d.Key), d.Window);
        }

        // The throttle costs nothing here: its group goes into the route and the worker admits or suppresses at send.
        if (!suppressed && outcome.Throttle is { } t)
        {
            route = route with { Throttle = new ThrottleMembership(GroupKey.Of(request, t.Key), t.Max, t.Per) };
        }

        var prepared = new PreparedNotification(id, request, route)
        {
            Suppressed = suppressed,
            NotBefore = outcome.Delay is { } delay && delay > TimeSpan.Zero ? now + delay : null,
            // The fingerprint of the request as sent (before the stored customer filled in its contacts), kept with its key.
            RequestHash = original.DedupeKey is not null ? RequestFingerprint.Of(original) : null,
        };
        return new NotificationPlan(prepared, null, digest);
    }

    private static NewNotification Merge(NewNotification request, Customer? customer) =>
        customer is null ? request : request with { Contacts = CustomerPreferences.Merge(request.Contacts, customer) };

    private static RuleContext Context(NewNotification merged, Customer? customer, DateTimeOffset now) =>
        new(merged, customer is null ? null : CustomerPreferences.RuleFields(customer), now);

    private static PlanError? Refusal(NewNotification request, Customer? customer) =>
        customer is null && request.CustomerId is not null && !HasAddress(request.Contacts)
            ? new PlanError("/customer/id",
                "Unknown customer, and the notification carries no contact: store the customer (PUT /v1/customers/{id}) or send phone, telegramChatId, email or pushToken.")
            : null;

    private static bool HasAddress(Contacts c) => c.Phone is not null || c.TelegramChatId is not null || c.Email is not null || c.PushToken is not null;
}
