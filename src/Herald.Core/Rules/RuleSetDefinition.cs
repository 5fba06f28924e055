using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Core.Rules;

/// <summary>An ordered list of rules as a tenant wrote it (the JSON document, read and checked).</summary>
public sealed record RuleSetDefinition(IReadOnlyList<RuleDefinition> Rules);

/// <summary>One rule: when <see cref="When"/> holds, apply <see cref="Then"/>.</summary>
/// <param name="When">The condition expression; null or empty means "always".</param>
/// <param name="Enabled">A disabled rule is kept in the document but never evaluated.</param>
public sealed record RuleDefinition(string Name, string? When, RuleActions Then, string? Description = null, bool Enabled = true);

/// <summary>One step of a rule's channel plan; unset fields take the default route's values.</summary>
public sealed record RuleChannelStep(Channel Channel, WaitFor? WaitFor = null, TimeSpan? Timeout = null);

/// <summary>What a matching rule decides. Every field is optional: null means "this rule does not decide it".</summary>
/// <param name="Templates">Template name per channel.</param>
/// <param name="Stop">Stop evaluating further rules once this rule matched.</param>
/// <param name="Mask">Data fields (<c>data.card.number</c>) whose text is masked at ingest, keeping the last 4
/// characters: card and account numbers never reach storage, logs or providers in full.</param>
public sealed record RuleActions(
    Priority? Priority = null,
    IReadOnlyList<RuleChannelStep>? Channels = null,
    TimeSpan? Ttl = null,
    QuietHoursPolicy? QuietHours = null,
    CostPolicy? CostPolicy = null,
    bool? Suppress = null,
    TimeSpan? Delay = null,
    IReadOnlyList<string>? Tags = null,
    IReadOnlyDictionary<Channel, string>? Templates = null,
    bool Stop = false,
    IReadOnlyList<string>? Mask = null)
{
    /// <summary>Collapse notifications of one customer and type (and <see cref="DigestPolicy.Key"/>) arriving within a
    /// window into one message. Never applies to critical priority.</summary>
    public DigestPolicy? Digest { get; init; }

    /// <summary>At most <see cref="ThrottlePolicy.Max"/> messages of a type per customer per period; the excess is
    /// suppressed (reason <c>throttled</c>). Never applies to critical priority.</summary>
    public ThrottlePolicy? Throttle { get; init; }

    /// <summary>Whether the customer's opt-outs bind this notification (<c>then.optOuts</c>): the bank's per-tenant,
    /// run-time choice of the types that go out despite an opt-out (fraud alerts, OTPs, mandatory notices).</summary>
    public OptOutPolicy? OptOuts { get; init; }

    /// <summary>Reply choices (<c>then.actions</c>) given to a notification that carries none of its own, e.g. confirm and
    /// block on every <c>fraud.alert</c>. The first matching rule that sets them decides.</summary>
    public IReadOnlyList<NotificationAction>? ReplyActions { get; init; }
}

/// <summary>The <c>optOuts</c> action: what the customer's opt-outs do to a notification the rule matches.</summary>
public enum OptOutPolicy
{
    /// <summary>Opt-outs drop the steps they cover (the default); a rule saying so beats a later <c>ignore</c> and the
    /// node's <c>OptOutExemptTypes</c>.</summary>
    Honour,

    /// <summary>Opt-outs are ignored: every step of the plan stays (the preferred channel still goes first).</summary>
    Ignore,
}

/// <summary>The <c>digest</c> action: one message per window instead of one per notification.</summary>
/// <param name="Window">How long after the first notification of a digest its one message goes out.</param>
/// <param name="Key">Null: tenant, customer and type group the digest. A data path (<c>data.accountId</c>): its value
/// splits that group further.</param>
public sealed record DigestPolicy(TimeSpan Window, string? Key = null);

/// <summary>The <c>throttle</c> action: at most <paramref name="Max"/> messages per customer and type per <paramref name="Per"/>
/// (a sliding window over the group's sends); the excess is suppressed with reason <c>throttled</c>.</summary>
/// <param name="Key">Null: tenant, customer and type form the group. A data path (<c>data.accountId</c>): its value
/// splits that group further, like a digest's key.</param>
public sealed record ThrottlePolicy(int Max, TimeSpan Per, string? Key = null);
