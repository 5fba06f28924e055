using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Core.Rules.Expressions;

namespace Herald.Core.Rules;

/// <summary>
/// A validated rule set compiled for evaluation: immutable and safe to share across threads. Build one per rule-set
/// version and swap the reference on change; nothing is parsed or compiled per notification.
/// </summary>
/// <remarks>
/// Semantics: rules run in order. A rule whose condition holds "matches". For each action (priority, channels, ttl,
/// quietHours, costPolicy, suppress, delay, and each channel's template) the first matching rule that sets it wins;
/// later matching rules may still set the actions it left open. Tags accumulate over all matching rules. A matching
/// rule with <c>stop: true</c> ends evaluation. A rule whose condition fails at run time (a pattern timeout) counts as
/// not matched and is reported; evaluation continues with the next rule.
/// </remarks>
public sealed class CompiledRuleSet
{
    private readonly CompiledRule[] _rules;
    private readonly DataPaths _paths;

    // Rule indexes to run per notification type: rules constrained to other types are left out, order is kept.
    private readonly Dictionary<string, Candidates> _byType = new(StringComparer.Ordinal);
    private readonly Candidates _untyped;

    private CompiledRuleSet(long version, RuleSetDefinition definition, CompiledRule[] rules, DataPaths paths)
    {
        Version = version;
        Definition = definition;
        _rules = rules;
        _paths = paths;
        var constraints = rules.Select(r => Node.TypeConstraintOf(r.Condition)).ToArray();
        _untyped = Candidates.Of(rules, [.. Enumerable.Range(0, rules.Length).Where(i => constraints[i] is null)]);
        foreach (var type in constraints.Where(c => c is not null).SelectMany(c => c!).Distinct(StringComparer.Ordinal))
        {
            _byType[type] = Candidates.Of(rules,
                [.. Enumerable.Range(0, rules.Length).Where(i => constraints[i] is null || constraints[i]!.Contains(type, StringComparer.Ordinal))]);
        }
    }

    /// <param name="LastAccumulating">Position in <paramref name="Rules"/> of the last rule that adds tags, templates or
    /// masks (actions that later rules can still extend), or sets a digest or throttle (which the route-only path does
    /// not count as "all decided"); the route-only path may stop early only after it. Types without such rules keep
    /// the early stop, so a digest rule costs nothing to notification types it does not name.</param>
    private sealed record Candidates(int[] Rules, int LastAccumulating)
    {
        public static Candidates Of(CompiledRule[] all, int[] rules) =>
            new(rules, Math.Max(
                Array.FindLastIndex(rules, i => all[i].Actions is { Tags.Count: > 0 } or { Templates.Count: > 0 } or { Mask.Count: > 0 } or { Digest: not null } or { Throttle: not null }),
                // An opt-out policy is rare and not part of "all decided" either: only types with such a rule pay for it.
                // Likewise reply actions (issue #16): only types with such a rule pay for them.
                Math.Max(Array.FindLastIndex(rules, i => all[i].Actions.OptOuts is not null), Array.FindLastIndex(rules, i => all[i].Actions.ReplyActions is not null))));
    }

    public long Version { get; }

    public RuleSetDefinition Definition { get; }

    /// <summary>An empty set: every notification takes the default route.</summary>
    public static CompiledRuleSet Empty { get; } = new(0, new RuleSetDefinition([]), [], new DataPaths());

    /// <summary>Compiles a rule set document, or throws <see cref="RuleSetValidationException"/> with every located error.</summary>
    public static CompiledRuleSet Compile(string json, long version, DefaultRouteOptions? options = null) =>
        TryCompile(json, version, out var set, out var errors, options) ? set! : throw new RuleSetValidationException(errors);

    public static bool TryCompile(
        string json, long version, out CompiledRuleSet? set, out IReadOnlyList<RuleValidationError> errors, DefaultRouteOptions? options = null)
    {
        var list = new List<RuleValidationError>();
        var definition = RuleSetReader.Read(json, list);
        set = definition is null ? null : Build(definition, version, options ?? new DefaultRouteOptions(), list);
        errors = list;
        return set is not null;
    }

    private static CompiledRuleSet? Build(RuleSetDefinition definition, long version, DefaultRouteOptions options, List<RuleValidationError> errors)
    {
        var paths = new DataPaths();
        var rules = new List<CompiledRule>();
        for (var i = 0; i < definition.Rules.Count; i++)
        {
            var rule = definition.Rules[i];
            Node? condition = null;
            if (rule.When is { } when)
            {
                condition = RuleCondition.TryBind(when, paths, out var error, i, rule.Name, $"/rules/{i}/when");
                if (condition is null)
                {
                    errors.Add(error!);
                    continue;
                }
            }

            // Disabled rules are still validated, so enabling one later cannot break the set.
            if (rule.Enabled)
            {
                rules.Add(new CompiledRule(i, rule.Name, condition, rule.Then, Steps(rule.Then.Channels, options)));
            }
        }

        return errors.Count == 0 ? new CompiledRuleSet(version, definition, [.. rules], paths) : null;
    }

    private static RouteStep[]? Steps(IReadOnlyList<RuleChannelStep>? channels, DefaultRouteOptions options) =>
        channels?.Select(c =>
        {
            var waitFor = c.WaitFor ?? (c.Channel == Channel.WhatsApp ? WaitFor.Delivered : WaitFor.Sent);
            return new RouteStep(c.Channel, waitFor, c.Timeout ?? (waitFor == WaitFor.Delivered ? options.WhatsAppReceiptTimeout : options.SentTimeout));
        }).ToArray();

    /// <summary>The route only (with the cost policy, quiet-hours policy, templates and tags the rules chose). Stops
    /// as soon as every action is decided and no later rule can add tags, templates or masks.</summary>
    public Route Decide(RuleContext context, DefaultRouter fallback, Action<RuleRuntimeError>? onError = null)
    {
        var acc = Run(context, routeOnly: true, null, null, onError, out _);
        return ComposeRoute(context.Notification, acc, fallback);
    }

    /// <summary>The ingest path: the route plus what a <see cref="Route"/> cannot carry (suppress, delay, TTL, masks).</summary>
    public RuleOutcome DecideAll(RuleContext context, DefaultRouter fallback, Action<RuleRuntimeError>? onError = null)
    {
        var acc = Run(context, routeOnly: true, null, null, onError, out _);
        var route = ComposeRoute(context.Notification, acc, fallback);
        return new RuleOutcome(
            route,
            acc.Suppress >= 0 && _rules[acc.Suppress].Actions.Suppress == true,
            acc.Delay >= 0 ? _rules[acc.Delay].Actions.Delay : null,
            acc.Ttl >= 0 ? _rules[acc.Ttl].Actions.Ttl : null,
            acc.Mask)
        {
            Digest = DigestOf(acc, route.Priority),
            Throttle = ThrottleOf(acc, route.Priority),
            OptOuts = OptOutsOf(acc),
            ReplyActions = acc.ReplyActions >= 0 ? _rules[acc.ReplyActions].Actions.ReplyActions : null,
        };
    }

    /// <summary>The full decision with matched rules and errors: the dry run, and what delivery applies.</summary>
    public RuleEvaluation Evaluate(RuleContext context, DefaultRouter fallback)
    {
        var matched = new List<string>();
        var errors = new List<RuleRuntimeError>();
        var acc = Run(context, routeOnly: false, matched, errors, null, out var dataInvalid);
        var route = ComposeRoute(context.Notification, acc, fallback);

        // The route's parts (priority, channels, cost policy, quiet hours, templates) as the route records them, plus
        // the actions a route does not carry.
        var decidedBy = route.DecidedBy is { } provenance
            ? new Dictionary<string, string>(provenance.Rules, StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);
        void By(string action, int rule)
        {
            if (rule >= 0)
            {
                decidedBy[action] = _rules[rule].Name;
            }
        }

        By("ttl", acc.Ttl);
        By("suppress", acc.Suppress);
        By("delay", acc.Delay);
        By("digest", acc.Digest);
        By("throttle", acc.Throttle);
        By("optOuts", acc.OptOuts);
        By("actions", acc.ReplyActions);
        var templates = Templates(acc) ?? [];

        var decision = new RuleDecision(
            acc.Priority >= 0 ? _rules[acc.Priority].Actions.Priority : null,
            acc.Channels >= 0 ? route.Steps : null,
            acc.Ttl >= 0 ? _rules[acc.Ttl].Actions.Ttl : null,
            acc.QuietHours >= 0 ? _rules[acc.QuietHours].Actions.QuietHours : null,
            acc.CostPolicy >= 0 ? _rules[acc.CostPolicy].Actions.CostPolicy : null,
            acc.Suppress >= 0 && _rules[acc.Suppress].Actions.Suppress == true,
            acc.Delay >= 0 ? _rules[acc.Delay].Actions.Delay : null,
            acc.Tags ?? [],
            templates,
            decidedBy)
        {
            Mask = acc.Mask ?? [],
            Digest = DigestOf(acc, route.Priority),
            Throttle = ThrottleOf(acc, route.Priority),
            OptOuts = OptOutsOf(acc),
            ReplyActions = acc.ReplyActions >= 0 ? _rules[acc.ReplyActions].Actions.ReplyActions : null,
        };
        return new RuleEvaluation(Version, route, decision, matched, errors, dataInvalid);
    }

    private Accumulator Run(
        RuleContext context,
        bool routeOnly,
        List<string>? matched,
        List<RuleRuntimeError>? errors,
        Action<RuleRuntimeError>? onError,
        out bool dataInvalid)
    {
        var n = context.Notification;
        var acc = new Accumulator();
        // The default route's priority (SPEC §2), which the `priority` path reads; its channel plan is built only if needed.
        var scope = EvalScope.Rent(context, n.RequestedPriority ?? DefaultRouter.PriorityForType(n.Type), _paths);
        try
        {
            var candidates = _byType.TryGetValue(context.Notification.Type, out var typed) ? typed : _untyped;
            for (var position = 0; position < candidates.Rules.Length; position++)
            {
                var at = candidates.Rules[position];
                var rule = _rules[at];
                bool holds;
                try
                {
                    holds = rule.Condition is null || rule.Condition.Test(scope);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // A rule that fails must not stop the message: report it and carry on as if it did not match.
                    var error = new RuleRuntimeError(rule.Index, rule.Name, Describe(e)) { TenantId = n.TenantId, RuleSetVersion = Version };
                    errors?.Add(error);
                    onError?.Invoke(error);
                    continue;
                }

                if (!holds)
                {
                    continue;
                }

                matched?.Add(rule.Name);
                acc.Apply(rule, at);
                if (rule.Actions.Stop || (routeOnly && acc.AllDecided && position >= candidates.LastAccumulating))
                {
                    break;
                }
            }

            dataInvalid = scope.DataInvalid;
            return acc;
        }
        finally
        {
            scope.Return();
        }
    }

    // Critical notifications are never collapsed or held back, whatever the rules say.
    private DigestPolicy? DigestOf(in Accumulator acc, Priority priority) =>
        acc.Digest >= 0 && priority != Priority.Critical ? _rules[acc.Digest].Actions.Digest : null;

    private ThrottlePolicy? ThrottleOf(in Accumulator acc, Priority priority) =>
        acc.Throttle >= 0 && priority != Priority.Critical ? _rules[acc.Throttle].Actions.Throttle : null;

    private OptOutPolicy? OptOutsOf(in Accumulator acc) => acc.OptOuts >= 0 ? _rules[acc.OptOuts].Actions.OptOuts : null;

    private static string Describe(Exception e) => e switch
    {
        RuleLimitException limit => limit.Message + " The rule was skipped.",
        System.Text.RegularExpressions.RegexMatchTimeoutException t =>
            $"The pattern \"{t.Pattern}\" ran longer than {t.MatchTimeout.TotalMilliseconds} ms on this notification and was stopped; the rule was skipped.",
        _ => $"The condition could not be evaluated ({e.GetType().Name}: {e.Message}); the rule was skipped.",
    };

    private Dictionary<Channel, string>? Templates(in Accumulator acc)
    {
        if (acc.Templates is null)
        {
            return null;
        }

        var templates = new Dictionary<Channel, string>(acc.Templates.Count);
        foreach (var (channel, rule) in acc.Templates)
        {
            templates[channel] = _rules[rule].Actions.Templates![channel];
        }

        return templates;
    }

    private Route ComposeRoute(NewNotification notification, in Accumulator acc, DefaultRouter fallback)
    {
        var route = ComposePlan(notification, acc, fallback);
        if (acc.CostPolicy < 0 && acc.QuietHours < 0 && acc.Templates is null && acc.Tags is null)
        {
            return acc.Priority < 0 && acc.Channels < 0 ? route : route with { DecidedBy = Provenance(acc) };
        }

        return route with
        {
            CostPolicy = acc.CostPolicy >= 0 ? _rules[acc.CostPolicy].Actions.CostPolicy : null,
            QuietHours = acc.QuietHours >= 0 ? _rules[acc.QuietHours].Actions.QuietHours : null,
            Templates = Templates(acc),
            Tags = acc.Tags,
            DecidedBy = Provenance(acc),
        };
    }

    /// <summary>The rules that decided the route's parts; null when none did (tags alone decide nothing of it).</summary>
    private RouteProvenance? Provenance(in Accumulator acc)
    {
        Dictionary<string, string>? rules = null;
        void By(string part, int rule)
        {
            if (rule >= 0)
            {
                (rules ??= new Dictionary<string, string>(StringComparer.Ordinal))[part] = _rules[rule].Name;
            }
        }

        By("priority", acc.Priority);
        By("channels", acc.Channels);
        By("costPolicy", acc.CostPolicy);
        By("quietHours", acc.QuietHours);
        if (acc.Templates is not null)
        {
            foreach (var (channel, rule) in acc.Templates)
            {
                By("template." + channel.ToString().ToLowerInvariant(), rule);
            }
        }

        return rules is null ? null : new RouteProvenance(Version, rules);
    }

    private Route ComposePlan(NewNotification notification, in Accumulator acc, DefaultRouter fallback)
    {
        if (acc.Channels < 0)
        {
            var defaultRoute = fallback.Decide(notification);
            return acc.Priority < 0 ? defaultRoute : defaultRoute with { Priority = _rules[acc.Priority].Actions.Priority!.Value };
        }

        var priority = acc.Priority >= 0
            ? _rules[acc.Priority].Actions.Priority!.Value
            : notification.RequestedPriority ?? DefaultRouter.PriorityForType(notification.Type);
        IReadOnlyList<RouteStep> steps;
        {
            var planned = _rules[acc.Channels].Steps!;
            var list = new List<RouteStep>(planned.Length);
            foreach (var step in planned)
            {
                // Like the default route: a channel the customer has no address on is left out of the plan.
                if (notification.Contacts.AddressFor(step.Channel) is not null)
                {
                    list.Add(step);
                }
            }

            steps = list;
        }

        return new Route(priority, steps);
    }

    internal sealed record CompiledRule(int Index, string Name, Node? Condition, RuleActions Actions, RouteStep[]? Steps);

    /// <summary>Which rule (index into the compiled rules) decided each action; -1 while open.</summary>
    private struct Accumulator()
    {
        public int Priority = -1;
        public int Channels = -1;
        public int Ttl = -1;
        public int QuietHours = -1;
        public int CostPolicy = -1;
        public int Suppress = -1;
        public int Delay = -1;
        public int Digest = -1;
        public int Throttle = -1;
        public int OptOuts = -1;
        public int ReplyActions = -1;
        public List<string>? Tags;
        public Dictionary<Channel, int>? Templates;
        public List<string>? Mask;

        public readonly bool AllDecided =>
            Priority >= 0 && Channels >= 0 && Ttl >= 0 && QuietHours >= 0 && CostPolicy >= 0 && Suppress >= 0 && Delay >= 0;

        public void Apply(CompiledRule rule, int at)
        {
            var a = rule.Actions;
            Take(ref Priority, a.Priority is not null, at);
            Take(ref Channels, a.Channels is not null, at);
            Take(ref Ttl, a.Ttl is not null, at);
            Take(ref QuietHours, a.QuietHours is not null, at);
            Take(ref CostPolicy, a.CostPolicy is not null, at);
            Take(ref Suppress, a.Suppress is not null, at);
            Take(ref Delay, a.Delay is not null, at);
            Take(ref Digest, a.Digest is not null, at);
            Take(ref Throttle, a.Throttle is not null, at);
            Take(ref OptOuts, a.OptOuts is not null, at);
            Take(ref ReplyActions, a.ReplyActions is not null, at);
            if (a.Tags is { Count: > 0 } tags)
            {
                Tags ??= [];
                foreach (var tag in tags)
                {
                    if (!Tags.Contains(tag))
                    {
                        Tags.Add(tag);
                    }
                }
            }

            if (a.Mask is { Count: > 0 } mask)
            {
                Mask ??= [];
                foreach (var path in mask)
                {
                    if (!Mask.Contains(path))
                    {
                        Mask.Add(path);
                    }
                }
            }

            if (a.Templates is { Count: > 0 } templates)
            {
                Templates ??= [];
                foreach (var channel in templates.Keys)
                {
                    Templates.TryAdd(channel, at);
                }
            }

            static void Take(ref int field, bool sets, int at)
            {
                if (field < 0 && sets)
                {
                    field = at;
                }
            }
        }
    }
}
