using Herald.Core.Routing;
using System.Globalization;
using System.Text.Json;
using Herald.Core.Notifications;

namespace Herald.Core.Rules;

/// <summary>
/// Reads a rule set document into a <see cref="RuleSetDefinition"/>, collecting every structural problem with its
/// JSON pointer. Hand-walked rather than deserialised so that unknown fields, wrong types and bad values are all
/// reported at once and where they are, in words a bank engineer understands.
/// </summary>
internal static class RuleSetReader
{
    /// <summary>Bounds the document itself; the expression caps bound each condition.</summary>
    public const int MaxRules = 1_000;
    public const int MaxNameLength = 100;
    public const int MaxTags = 32;

    private static readonly string[] RuleFields = ["name", "description", "enabled", "when", "then"];
    private static readonly string[] ActionFields =
        ["priority", "channels", "ttl", "quietHours", "costPolicy", "suppress", "delay", "tags", "template", "mask", "stop", "digest", "throttle", "optOuts", "actions"];
    private static readonly string[] StepFields = ["channel", "waitFor", "timeout"];

    public static RuleSetDefinition? Read(string json, List<RuleValidationError> errors)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            errors.Add(new RuleValidationError(null, null, "", null,
                $"The rule set is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {FirstSentence(e.Message)}"));
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new RuleValidationError(null, null, "", null, "The rule set must be a JSON object like {\"rules\": [...]}."));
                return null;
            }

            var rules = new List<RuleDefinition>();
            var seenRules = false;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name != "rules")
                {
                    errors.Add(new RuleValidationError(null, null, "/" + Escape(property.Name), null,
                        $"Unknown field '{property.Name}'; a rule set has only 'rules'."));
                    continue;
                }

                seenRules = true;
                if (property.Value.ValueKind != JsonValueKind.Array)
                {
                    errors.Add(new RuleValidationError(null, null, "/rules", null, "'rules' must be an array of rules."));
                    continue;
                }

                if (property.Value.GetArrayLength() > MaxRules)
                {
                    errors.Add(new RuleValidationError(null, null, "/rules", null, $"A rule set holds at most {MaxRules} rules."));
                    continue;
                }

                var names = new HashSet<string>(StringComparer.Ordinal);
                var index = 0;
                foreach (var element in property.Value.EnumerateArray())
                {
                    if (ReadRule(element, index, names, errors) is { } rule)
                    {
                        rules.Add(rule);
                    }

                    index++;
                }
            }

            if (!seenRules)
            {
                errors.Add(new RuleValidationError(null, null, "/rules", null, "The rule set has no 'rules' array."));
            }

            return errors.Count == 0 ? new RuleSetDefinition(rules) : null;
        }
    }

    private static RuleDefinition? ReadRule(JsonElement element, int index, HashSet<string> names, List<RuleValidationError> errors)
    {
        var at = $"/rules/{index}";
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new RuleValidationError(index, null, at, null, "A rule must be an object with 'name', 'when' and 'then'."));
            return null;
        }

        var name = element.TryGetProperty("name", out var nameElement) && nameElement.ValueKind == JsonValueKind.String
            ? nameElement.GetString()
            : null;
        var before = errors.Count;
        void Error(string field, string message) => errors.Add(new RuleValidationError(index, name, at + field, null, message));

        if (name is null)
        {
            Error("/name", "Every rule needs a 'name' (text), so matches and errors can be traced to it.");
        }
        else if (name.Trim().Length == 0 || name.Length > MaxNameLength)
        {
            Error("/name", $"A rule name must be 1 to {MaxNameLength} characters.");
        }
        else if (!names.Add(name))
        {
            Error("/name", $"Another rule is already named '{name}'; names must be unique.");
        }

        string? description = null;
        string? when = null;
        var enabled = true;
        RuleActions? then = null;
        foreach (var property in element.EnumerateObject())
        {
            var field = "/" + Escape(property.Name);
            var value = property.Value;
            switch (property.Name)
            {
                case "name":
                    break;
                case "description":
                    if (value.ValueKind == JsonValueKind.String) { description = value.GetString(); }
                    else if (value.ValueKind != JsonValueKind.Null) { Error(field, "'description' must be text."); }
                    break;
                case "enabled":
                    if (value.ValueKind is JsonValueKind.True or JsonValueKind.False) { enabled = value.GetBoolean(); }
                    else { Error(field, "'enabled' must be true or false."); }
                    break;
                case "when":
                    if (value.ValueKind == JsonValueKind.String) { when = value.GetString(); }
                    else if (value.ValueKind != JsonValueKind.Null) { Error(field, "'when' must be a condition written as text, e.g. \"type == 'otp'\"."); }
                    break;
                case "then":
                    then = ReadActions(value, field, Error);
                    break;
                default:
                    Error(field, $"Unknown field '{property.Name}'; a rule has {string.Join(", ", RuleFields)}.");
                    break;
            }
        }

        if (!element.TryGetProperty("then", out _))
        {
            Error("/then", "Every rule needs a 'then' object with its actions.");
        }

        return errors.Count == before && name is not null && then is not null
            ? new RuleDefinition(name, string.IsNullOrWhiteSpace(when) ? null : when, then, description, enabled)
            : null;
    }

    private static RuleActions? ReadActions(JsonElement element, string at, Action<string, string> error)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            error(at, "'then' must be an object of actions, e.g. {\"priority\": \"high\"}.");
            return null;
        }

        var actions = new RuleActions();
        foreach (var property in element.EnumerateObject())
        {
            var field = at + "/" + Escape(property.Name);
            var value = property.Value;
            switch (property.Name)
            {
                case "priority":
                    actions = actions with { Priority = ReadEnum<Priority>(value, field, "priority", ["critical", "high", "normal", "low"], error) };
                    break;
                case "channels":
                    actions = actions with { Channels = ReadChannels(value, field, error) };
                    break;
                case "ttl":
                    actions = actions with { Ttl = ReadDuration(value, field, "ttl", allowZero: false, error) };
                    break;
                case "delay":
                    actions = actions with { Delay = ReadDuration(value, field, "delay", allowZero: true, error) };
                    break;
                case "quietHours":
                    actions = actions with { QuietHours = ReadEnum<QuietHoursPolicy>(value, field, "quietHours", ["wait", "override"], error) };
                    break;
                case "costPolicy":
                    actions = actions with { CostPolicy = ReadEnum<CostPolicy>(value, field, "costPolicy", ["cheapest", "fastest", "preferred"], error) };
                    break;
                case "suppress":
                    if (value.ValueKind is JsonValueKind.True or JsonValueKind.False) { actions = actions with { Suppress = value.GetBoolean() }; }
                    else { error(field, "'suppress' must be true or false."); }
                    break;
                case "stop":
                    if (value.ValueKind is JsonValueKind.True or JsonValueKind.False) { actions = actions with { Stop = value.GetBoolean() }; }
                    else { error(field, "'stop' must be true or false."); }
                    break;
                case "tags":
                    actions = actions with { Tags = ReadTags(value, field, error) };
                    break;
                case "template":
                    actions = actions with { Templates = ReadTemplates(value, field, error) };
                    break;
                case "mask":
                    actions = actions with { Mask = ReadMask(value, field, error) };
                    break;
                case "digest":
                    actions = actions with { Digest = ReadDigest(value, field, error) };
                    break;
                case "throttle":
                    actions = actions with { Throttle = ReadThrottle(value, field, error) };
                    break;
                case "optOuts":
                    actions = actions with { OptOuts = ReadEnum<OptOutPolicy>(value, field, "optOuts policy", ["honour", "ignore"], error) };
                    break;
                case "actions":
                    actions = actions with { ReplyActions = ReadReplyActions(value, field, error) };
                    break;
                default:
                    error(field, $"Unknown action '{property.Name}'; actions are {string.Join(", ", ActionFields)}.");
                    break;
            }
        }

        return actions;
    }

    private static List<RuleChannelStep>? ReadChannels(JsonElement value, string at, Action<string, string> error)
    {
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
        {
            error(at, "'channels' must be a non-empty array of steps, e.g. [{\"channel\": \"whatsapp\", \"waitFor\": \"delivered\", \"timeout\": \"30s\"}, {\"channel\": \"sms\"}].");
            return null;
        }

        var steps = new List<RuleChannelStep>();
        var index = 0;
        foreach (var element in value.EnumerateArray())
        {
            var stepAt = $"{at}/{index++}";
            if (element.ValueKind == JsonValueKind.String)
            {
                // Shorthand: "sms" is {"channel": "sms"}.
                if (ReadEnum<Channel>(element, stepAt, "channel", ChannelNames, error) is { } shorthand)
                {
                    AddStep(new RuleChannelStep(shorthand), stepAt);
                }

                continue;
            }

            if (element.ValueKind != JsonValueKind.Object)
            {
                error(stepAt, "A channel step must be an object like {\"channel\": \"sms\"} or a channel name.");
                continue;
            }

            Channel? channel = null;
            WaitFor? waitFor = null;
            TimeSpan? timeout = null;
            foreach (var property in element.EnumerateObject())
            {
                var field = stepAt + "/" + Escape(property.Name);
                switch (property.Name)
                {
                    case "channel":
                        channel = ReadEnum<Channel>(property.Value, field, "channel", ChannelNames, error);
                        break;
                    case "waitFor":
                        waitFor = ReadEnum<WaitFor>(property.Value, field, "waitFor", ["sent", "delivered"], error);
                        break;
                    case "timeout":
                        timeout = ReadDuration(property.Value, field, "timeout", allowZero: false, error);
                        break;
                    default:
                        error(field, $"Unknown field '{property.Name}'; a channel step has {string.Join(", ", StepFields)}.");
                        break;
                }
            }

            if (!element.TryGetProperty("channel", out _))
            {
                error(stepAt + "/channel", "A channel step needs a 'channel'.");
            }
            else if (channel is { } c)
            {
                AddStep(new RuleChannelStep(c, waitFor, timeout), stepAt + "/channel");
            }
        }

        return steps;

        void AddStep(RuleChannelStep step, string field)
        {
            if (steps.Exists(s => s.Channel == step.Channel))
            {
                error(field, $"The channel '{ChannelNames[(int)step.Channel]}' appears twice in the plan.");
            }
            else
            {
                steps.Add(step);
            }
        }
    }

    private static readonly string[] ChannelNames = ["whatsapp", "telegram", "sms", "email", "push"];

    private static List<string>? ReadTags(JsonElement value, string at, Action<string, string> error)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            error(at, "'tags' must be an array of text, e.g. [\"cards\", \"eu\"].");
            return null;
        }

        if (value.GetArrayLength() > MaxTags)
        {
            error(at, $"A rule has at most {MaxTags} tags.");
            return null;
        }

        var tags = new List<string>();
        var index = 0;
        foreach (var element in value.EnumerateArray())
        {
            if (element.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(element.GetString()) || element.GetString()!.Length > MaxNameLength)
            {
                error($"{at}/{index}", $"A tag must be text of 1 to {MaxNameLength} characters.");
            }
            else if (!tags.Contains(element.GetString()!))
            {
                tags.Add(element.GetString()!);
            }

            index++;
        }

        return tags;
    }

    private static List<string>? ReadMask(JsonElement value, string at, Action<string, string> error)
    {
        const string Example = "'mask' must be an array of data fields, e.g. [\"data.cardNumber\", \"data.account.iban\"].";
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
        {
            error(at, Example);
            return null;
        }

        if (value.GetArrayLength() > MaxTags)
        {
            error(at, $"A rule masks at most {MaxTags} fields.");
            return null;
        }

        var paths = new List<string>();
        var index = 0;
        foreach (var element in value.EnumerateArray())
        {
            if (element.ValueKind == JsonValueKind.String && DataMasking.IsPath(element.GetString()))
            {
                if (!paths.Contains(element.GetString()!))
                {
                    paths.Add(element.GetString()!);
                }
            }
            else
            {
                error($"{at}/{index}", "A masked field is a data path like \"data.cardNumber\" or \"data.account.iban\" (letters, digits, '_' and '-' between the dots).");
            }

            index++;
        }

        return paths;
    }

    private static Dictionary<Channel, string>? ReadTemplates(JsonElement value, string at, Action<string, string> error)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            error(at, "'template' must map channels to template names, e.g. {\"whatsapp\": \"card_tx_v2\", \"sms\": \"card_tx_short\"}.");
            return null;
        }

        var templates = new Dictionary<Channel, string>();
        foreach (var property in value.EnumerateObject())
        {
            var field = at + "/" + Escape(property.Name);
            var index = Array.IndexOf(ChannelNames, property.Name);
            if (index < 0)
            {
                error(field, $"Unknown channel '{property.Name}'; channels are {string.Join(", ", ChannelNames)}.");
            }
            else if (property.Value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(property.Value.GetString()))
            {
                error(field, "A template name must be non-empty text.");
            }
            else
            {
                templates[(Channel)index] = property.Value.GetString()!;
            }
        }

        return templates;
    }

    /// <summary>The longest digest window and throttle period: state is kept per window, so it must stay bounded.</summary>
    public static readonly TimeSpan MaxDigestWindow = TimeSpan.FromDays(1);

    public const int MaxThrottle = 10_000;

    private static DigestPolicy? ReadDigest(JsonElement value, string at, Action<string, string> error)
    {
        const string Example = "'digest' must be an object like {\"window\": \"10m\"} or {\"window\": \"10m\", \"key\": \"data.accountId\"}.";
        if (value.ValueKind != JsonValueKind.Object)
        {
            error(at, Example);
            return null;
        }

        TimeSpan? window = null;
        string? key = null;
        var ok = true;
        foreach (var property in value.EnumerateObject())
        {
            var field = at + "/" + Escape(property.Name);
            switch (property.Name)
            {
                case "window":
                    window = ReadDuration(property.Value, field, "window", allowZero: false, error);
                    if (window > MaxDigestWindow)
                    {
                        error(field, $"A digest window is at most {Durations.Format(MaxDigestWindow)}.");
                        window = null;
                    }

                    ok &= window is not null;
                    break;
                case "key":
                    ok &= ReadGroupKey(property.Value, field, "digest", error, out key);
                    break;
                default:
                    error(field, $"Unknown field '{property.Name}' in 'digest'; it has 'window' and, optionally, 'key'.");
                    ok = false;
                    break;
            }
        }

        if (!value.TryGetProperty("window", out _))
        {
            error(at + "/window", "Required: how long a digest collects notifications, e.g. \"10m\".");
            ok = false;
        }

        return ok && window is { } w ? new DigestPolicy(w, key) : null;
    }

    /// <summary>A rule's reply choices: the same shape and limits as a notification's own <c>actions</c>.</summary>
    private static List<NotificationAction>? ReadReplyActions(JsonElement value, string at, Action<string, string> error)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            error(at, "'actions' must be an array of up to 3 reply choices, e.g. [{\"id\": \"confirm\", \"title\": \"Yes, it was me\"}].");
            return null;
        }

        var list = new List<NotificationAction>();
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            var itemAt = at + "/" + i.ToString(CultureInfo.InvariantCulture);
            i++;
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String
                || !item.TryGetProperty("title", out var title) || title.ValueKind != JsonValueKind.String
                || item.EnumerateObject().Count() != 2)
            {
                error(itemAt, "Each reply choice is {\"id\": \"...\", \"title\": \"...\"}.");
                continue;
            }

            list.Add(new NotificationAction(id.GetString()!, title.GetString()!));
        }

        var problems = ReplyActions.Check(list, whatsApp: false);
        foreach (var problem in problems)
        {
            error(at + problem.Pointer, problem.Detail);
        }

        return i == list.Count && problems.Count == 0 ? list : null;
    }

    private static ThrottlePolicy? ReadThrottle(JsonElement value, string at, Action<string, string> error)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            error(at, "'throttle' must be an object like {\"max\": 3, \"per\": \"1h\"}.");
            return null;
        }

        int? max = null;
        TimeSpan? per = null;
        string? key = null;
        var ok = true;
        foreach (var property in value.EnumerateObject())
        {
            var field = at + "/" + Escape(property.Name);
            switch (property.Name)
            {
                case "max":
                    if (property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt32(out var m) && m is >= 1 and <= MaxThrottle)
                    {
                        max = m;
                    }
                    else
                    {
                        error(field, $"'max' must be a whole number from 1 to {MaxThrottle}.");
                        ok = false;
                    }

                    break;
                case "per":
                    per = ReadDuration(property.Value, field, "per", allowZero: false, error);
                    if (per > MaxDigestWindow)
                    {
                        error(field, $"A throttle period is at most {Durations.Format(MaxDigestWindow)}.");
                        per = null;
                    }

                    ok &= per is not null;
                    break;
                case "key":
                    ok &= ReadGroupKey(property.Value, field, "throttle", error, out key);
                    break;
                default:
                    error(field, $"Unknown field '{property.Name}' in 'throttle'; it has 'max', 'per' and, optionally, 'key'.");
                    ok = false;
                    break;
            }
        }

        foreach (var (name, example) in new[] { ("max", "3"), ("per", "\"1h\"") })
        {
            if (!value.TryGetProperty(name, out _))
            {
                error(at + "/" + name, $"Required: '{name}', e.g. {example}.");
                ok = false;
            }
        }

        return ok && max is { } mx && per is { } p ? new ThrottlePolicy(mx, p, key) : null;
    }

    // A digest's or throttle's group: "customer" (null: tenant, customer and type) or a data path that splits it further.
    private static bool ReadGroupKey(JsonElement value, string field, string action, Action<string, string> error, out string? key)
    {
        var text = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        key = null;
        if (text == "customer")
        {
            return true;
        }

        if (DataMasking.IsPath(text))
        {
            key = text;
            return true;
        }

        error(field, $"'key' is \"customer\" (the default: one {action} per customer and type) or a data path like \"data.accountId\" that splits it further.");
        return false;
    }

    private static T? ReadEnum<T>(JsonElement value, string at, string what, string[] names, Action<string, string> error)
        where T : struct, Enum
    {
        var index = value.ValueKind == JsonValueKind.String ? Array.IndexOf(names, value.GetString()) : -1;
        if (index >= 0)
        {
            return (T)Enum.ToObject(typeof(T), index);
        }

        var got = value.ValueKind == JsonValueKind.String ? $"'{value.GetString()}'" : "a " + value.ValueKind.ToString().ToLowerInvariant();
        error(at, $"Unknown {what} {got}; expected one of {string.Join(", ", names)}.");
        return null;
    }

    private static TimeSpan? ReadDuration(JsonElement value, string at, string what, bool allowZero, Action<string, string> error)
    {
        if (value.ValueKind == JsonValueKind.String && Durations.TryParse(value.GetString(), out var duration) && (allowZero || duration > TimeSpan.Zero))
        {
            return duration;
        }

        error(at, $"'{what}' must be a {(allowZero ? "" : "positive ")}duration like \"30s\", \"2m\", \"1h30m\" or \"500ms\" (units ms, s, m, h, d; at most 365d).");
        return null;
    }

    private static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
