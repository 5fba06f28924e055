using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Core.Notifications;
using Route = Herald.Core.Routing.Route;
using Herald.Core.Rules;
using Herald.Storage;

namespace Herald.Server.Rules;

/// <summary>Source-generated JSON for the rules API (same options as <see cref="HeraldJson"/>).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RuleSetView))]
[JsonSerializable(typeof(RuleVersionPage))]
[JsonSerializable(typeof(RollbackRequest))]
[JsonSerializable(typeof(RuleProblem))]
[JsonSerializable(typeof(RuleTestView))]
public sealed partial class RulesJson : JsonSerializerContext;

/// <summary>A rule set version with its document. Version 0 with no rules: the tenant never stored any.</summary>
/// <param name="Changes">Against the previous version; null where not computed.</param>
public sealed record RuleSetView(
    long Version, JsonElement Document, string? Author, DateTimeOffset? CreatedAt, string? Comment, long? RolledBackFrom, RuleSetChanges? Changes)
{
    public static RuleSetView None { get; } = new(0, Parse("""{"rules": []}"""), null, null, null, null, null);

    public static RuleSetView Of(RuleSetVersion v, RuleSetChanges? changes) =>
        new(v.Version, Parse(v.Document), v.Author, v.CreatedAt, v.Comment, v.RolledBackFrom, changes);

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}

/// <summary>Rules added, removed and changed (by name) from one version to the next.</summary>
public sealed record RuleSetChanges(IReadOnlyList<string> Added, IReadOnlyList<string> Removed, IReadOnlyList<string> Changed);

/// <summary>One entry of the history: who changed what, when; without the document.</summary>
public sealed record RuleVersionView(long Version, string Author, DateTimeOffset CreatedAt, string? Comment, long? RolledBackFrom, int RuleCount, RuleSetChanges Changes)
{
    public static RuleVersionView Of(RuleSetVersion v, RuleSetChanges changes) =>
        new(v.Version, v.Author, v.CreatedAt, v.Comment, v.RolledBackFrom, RuleSetDiff.Names(v.Document).Count, changes);
}

/// <param name="NextBefore">Pass as <c>before</c> for the next (older) page; null on the last page.</param>
public sealed record RuleVersionPage(IReadOnlyList<RuleVersionView> Items, long? NextBefore);

public sealed record RollbackRequest(long? Version, string? Comment);

/// <summary>One located rule error: <c>pointer</c> and <c>detail</c> like every Herald input error, plus the rule's
/// index and name and, inside a condition, the character position.</summary>
public sealed record RuleErrorView(string Pointer, string Detail, int? RuleIndex, string? RuleName, int? Position);

/// <summary>RFC 9457 problem with located rule errors (422).</summary>
public sealed record RuleProblem
{
    public required string Type { get; init; }
    public required string Title { get; init; }
    public required int Status { get; init; }
    public string? Detail { get; init; }
    public required IReadOnlyList<RuleErrorView> Errors { get; init; }
}

public sealed record RuleRouteStepView(string Channel, string WaitFor, string Timeout);

public sealed record RouteView(
    string Priority, IReadOnlyList<RuleRouteStepView> Steps, string? CostPolicy, string? QuietHours, IReadOnlyDictionary<string, string>? Templates,
    IReadOnlyList<string>? Tags)
{
    public static RouteView Of(Route route) => new(
        Views.Name(route.Priority),
        [.. route.Steps.Select(s => new RuleRouteStepView(Views.Name(s.Channel), s.WaitFor == WaitFor.Delivered ? "delivered" : "sent", Durations.Format(s.Timeout)))],
        route.CostPolicy?.ToString().ToLowerInvariant(),
        route.QuietHours?.ToString().ToLowerInvariant(),
        route.Templates?.ToDictionary(t => Views.Name(t.Key), t => t.Value),
        route.Tags);
}

/// <summary>What the rules decided and what ingest would do with it.</summary>
/// <param name="NotBefore">The first send is held back until then (a rule's delay).</param>
/// <param name="ExpiresAt">The expiry ingest would store: the notification's own, capped by a rule's TTL.</param>
/// <param name="Mask">Data fields masked before storing.</param>
/// <param name="DecidedBy">Which rule decided each action.</param>
public sealed record DecisionView(
    bool Suppress, string? Delay, string? Ttl, DateTimeOffset? NotBefore, DateTimeOffset? ExpiresAt, IReadOnlyList<string> Mask,
    IReadOnlyDictionary<string, string> DecidedBy)
{
    /// <summary>The rules' opt-out policy (<c>honour</c> or <c>ignore</c>); null when no rule decides and the node's
    /// <c>Herald:Customers:OptOutExemptTypes</c> applies.</summary>
    public string? OptOuts { get; init; }
}

/// <summary>The digest window a dry-run notification would join.</summary>
/// <param name="Key">The window's key: type, customer and, with a keyed digest, the data value (as ingest stores it).</param>
/// <param name="ClosesAt">When a window opened now closes; an already open window of the key closes sooner.</param>
public sealed record DigestView(string Key, string Window, DateTimeOffset ClosesAt);

/// <summary>The text a route step would send, composed as delivery composes it (tenant templates included).</summary>
/// <param name="Subject">Email: the template's subject, when a template sets one.</param>
/// <param name="TemplateId">The stored template used; null for the default text.</param>
public sealed record ComposedMessageView(int Step, string Channel, string? Template, string Text, string? Subject = null, Guid? TemplateId = null);

public sealed record RuleErrorRuntimeView(int RuleIndex, string RuleName, string Message);

/// <summary>The dry run's answer (POST /v1/rules/test): nothing is stored or sent.</summary>
/// <param name="RuleSetVersion">The version tried; null for a draft.</param>
/// <param name="Status">What ingest would answer: accepted, or suppressed.</param>
public sealed record RuleTestView(
    long? RuleSetVersion,
    bool Draft,
    IReadOnlyList<string> MatchedRules,
    IReadOnlyList<RuleErrorRuntimeView> Errors,
    bool DataInvalid,
    RouteView Route,
    DecisionView Decision,
    string Status,
    JsonElement Data,
    IReadOnlyList<ComposedMessageView> Messages)
{
    /// <summary>The throttle in force (a rule's <c>throttle</c>, not for critical priority): the group's sends in the
    /// window now and whether this notification would be throttled if sent now; null when none applies.</summary>
    public Throttling.ThrottleView? Throttle { get; init; }

    /// <summary>The digest in force (a rule's <c>digest</c>, not for critical priority): the window key ingest would
    /// join and when a window opened now would close (the notification's first send, <c>decision.notBefore</c>);
    /// null when none applies.</summary>
    public DigestView? Digest { get; init; }

    public static RuleTestView Of(long? version, RuleEvaluation evaluation, PreparedNotification prepared, IReadOnlyList<ComposedMessageView> messages)
    {
        var d = evaluation.Decision;
        using var data = JsonDocument.Parse(prepared.Request.DataJson);
        return new RuleTestView(
            version,
            version is null,
            evaluation.MatchedRules,
            [.. evaluation.Errors.Select(e => new RuleErrorRuntimeView(e.RuleIndex, e.RuleName, e.Message))],
            evaluation.DataInvalid,
            RouteView.Of(prepared.Route),
            new DecisionView(
                d.Suppress,
                d.Delay is { } delay ? Durations.Format(delay) : null,
                d.Ttl is { } ttl ? Durations.Format(ttl) : null,
                prepared.NotBefore,
                prepared.Request.ExpiresAt,
                d.Mask,
                d.DecidedBy) { OptOuts = d.OptOuts is { } optOuts ? optOuts.ToString().ToLowerInvariant() : null },
            prepared.Suppressed ? "suppressed" : "accepted",
            data.RootElement.Clone(),
            messages);
    }
}

internal static class Views
{
    private static readonly string[] Channels = ["whatsapp", "telegram", "sms", "email", "push"];
    private static readonly string[] Priorities = ["critical", "high", "normal", "low"];

    public static string Name(Channel channel) => Channels[(int)channel];

    public static string Name(Priority priority) => Priorities[(int)priority];
}

/// <summary>Compares two rule set documents by rule name.</summary>
public static class RuleSetDiff
{
    public static RuleSetChanges Between(string? previous, string current)
    {
        var before = Rules(previous);
        var after = Rules(current);
        return new RuleSetChanges(
            [.. after.Keys.Where(n => !before.ContainsKey(n))],
            [.. before.Keys.Where(n => !after.ContainsKey(n))],
            [.. after.Keys.Where(n => before.TryGetValue(n, out var old) && !JsonElement.DeepEquals(old, after[n]))]);
    }

    public static IReadOnlyList<string> Names(string document) => [.. Rules(document).Keys];

    /// <summary>The rules of a document by name (the audit trail's before and after: its diff then names the rules that
    /// changed rather than the whole list).</summary>
    public static System.Text.Json.Nodes.JsonObject ByName(string? document) =>
        new(Rules(document).Select(r => KeyValuePair.Create(r.Key, System.Text.Json.Nodes.JsonNode.Parse(r.Value.GetRawText()))));

    private static Dictionary<string, JsonElement> Rules(string? document)
    {
        var rules = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (document is null)
        {
            return rules;
        }

        using var json = JsonDocument.Parse(document);
        if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("rules", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var rule in list.EnumerateArray())
            {
                if (rule.ValueKind == JsonValueKind.Object && rule.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                {
                    rules.TryAdd(name.GetString()!, rule.Clone());
                }
            }
        }

        return rules;
    }
}
