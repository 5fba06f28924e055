using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Herald.Core.Customers;
using Herald.Ingest;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Storage;

namespace Herald.Server.Consents;

/// <summary>A tenant's keywords as the API shows them: what is in force, and whether the tenant configured it.</summary>
/// <param name="Configured">False: the built-in defaults apply.</param>
public sealed record KeywordSettingsView(IReadOnlyList<Keyword> Keywords, IReadOnlyDictionary<string, KeywordTexts> Texts, bool Configured);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(KeywordSettingsView))]
public sealed partial class KeywordsJson : JsonSerializerContext;

/// <summary>
/// <c>/v1/settings/keywords</c> (issue #16; docs/TWO-WAY.md "Keywords"): the tenant's keywords and answers, changed at
/// run time. <c>GET</c> for reading keys, <c>PUT</c> for its <c>admin</c> key: <c>{"keywords": [...], "texts": {...}}</c>
/// replaces the settings (a member left out or null keeps its default), <c>{}</c> goes back to the defaults. Audited.
/// </summary>
public static class KeywordsApi
{
    private const int MaxBody = 64 * 1024;

    public static IEndpointRouteBuilder MapKeywordsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/settings/keywords").WithTags("Consents");
        group.MapGet("", (ClaimsPrincipal user, IConsentStore store, CancellationToken ct) => GetAsync(user.TenantId(), store, ct))
            .RequireAuthorization(Policies.Read).WithName("getKeywords")
            .WithSummary("The tenant's keywords (STOP, START, HELP, ...) and their answers per language")
            .Produces<KeywordSettingsView>();
        group.MapPut("", (ClaimsPrincipal user, HttpRequest request, IConsentStore store, CancellationToken ct) => SetAsync(user.TenantId(), request, store, ct))
            .RequireAuthorization(Policies.Admin).WithName("setKeywords")
            .ProducesProblems(StatusCodes.Status400BadRequest)
            .WithSummary("Replaces the tenant's keywords and answers ({} for the defaults)")
            .Accepts<KeywordSettingsView>("application/json")
            .Produces<KeywordSettingsView>();
        return app;
    }

    private static async Task<IResult> GetAsync(Guid tenantId, IConsentStore store, CancellationToken ct) =>
        await store.GetKeywordsAsync(tenantId, ct) is (true, var settings)
            ? TypedResults.Json(View(settings), KeywordsJson.Default.KeywordSettingsView)
            : Problems.NotFound("Tenant");

    private static async Task<IResult> SetAsync(Guid tenantId, HttpRequest request, IConsentStore store, CancellationToken ct)
    {
        var (body, error) = await Notifications.RequestBody.ReadJsonAsync(request, MaxBody);
        if (error is not null)
        {
            return error;
        }

        var (settings, errors) = Read(body);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The keyword settings are invalid.");
        }

        var (_, current) = await store.GetKeywordsAsync(tenantId, ct);
        using (request.HttpContext.Audit(tenantId, "settings.keywords", "settings", "keywords", Node(current), Node(settings)))
        {
            return await store.SetKeywordsAsync(tenantId, settings, ct)
                ? TypedResults.Json(View(settings), KeywordsJson.Default.KeywordSettingsView)
                : Problems.NotFound("Tenant");
        }
    }

    /// <summary>The settings a body describes (null: the defaults), or its located problems.</summary>
    public static (KeywordSettings? Settings, List<InputError> Errors) Read(ReadOnlyMemory<byte> body)
    {
        var errors = new List<InputError>();
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new InputError("/", "An object: {\"keywords\": [...], \"texts\": {...}}."));
                return (null, errors);
            }

            IReadOnlyList<Keyword>? keywords = null;
            Dictionary<string, KeywordTexts>? texts = null;
            foreach (var member in root.EnumerateObject())
            {
                switch (member.Name)
                {
                    case "keywords" when member.Value.ValueKind == JsonValueKind.Null:
                        break;
                    case "keywords":
                        keywords = ReadKeywords(member.Value, errors);
                        break;
                    case "texts" when member.Value.ValueKind == JsonValueKind.Null:
                        break;
                    case "texts":
                        texts = ReadTexts(member.Value, errors);
                        break;
                    case "configured":
                        break; // the view's own member, sent back as read
                    default:
                        errors.Add(new InputError("/" + member.Name, "Unknown member: only \"keywords\" and \"texts\" can be set."));
                        break;
                }
            }

            if (errors.Count > 0)
            {
                return (null, errors);
            }

            if (keywords is null && texts is null)
            {
                return (null, errors);
            }

            var settings = new KeywordDocument(keywords, texts).ToSettings();
            errors.AddRange(KeywordSettings.Check(settings).Select(static e => new InputError(e.Pointer, e.Detail)));
            return (errors.Count > 0 ? null : settings, errors);
        }
        catch (JsonException)
        {
            errors.Add(new InputError("/", "Malformed JSON."));
            return (null, errors);
        }
    }

    private static List<Keyword>? ReadKeywords(JsonElement array, List<InputError> errors)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new InputError("/keywords", "An array of {\"word\", \"action\", \"language\"?, \"type\"?}."));
            return null;
        }

        var keywords = new List<Keyword>();
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var at = $"/keywords/{i++}";
            if (item.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new InputError(at, "An object {\"word\", \"action\", \"language\"?, \"type\"?}."));
                continue;
            }

            string? word = null, language = null, type = null;
            KeywordAction? action = null;
            foreach (var m in item.EnumerateObject())
            {
                switch (m.Name)
                {
                    case "word":
                        word = String(m.Value, at + "/word", errors, required: true);
                        break;
                    case "language":
                        language = String(m.Value, at + "/language", errors, required: false);
                        break;
                    case "type":
                        type = String(m.Value, at + "/type", errors, required: false);
                        break;
                    case "action":
                        action = String(m.Value, at + "/action", errors, required: true) switch
                        {
                            "opt_out" => KeywordAction.OptOut,
                            "opt_in" => KeywordAction.OptIn,
                            "help" => KeywordAction.Help,
                            null => null,
                            _ => Invalid(at + "/action", "One of opt_out, opt_in, help.", errors),
                        };
                        break;
                    default:
                        errors.Add(new InputError(at + "/" + m.Name, "Unknown member: word, action, language and type are known."));
                        break;
                }
            }

            if (word is null && !item.TryGetProperty("word", out _))
            {
                errors.Add(new InputError(at + "/word", "Required: the keyword."));
            }

            if (action is null && !item.TryGetProperty("action", out _))
            {
                errors.Add(new InputError(at + "/action", "Required: opt_out, opt_in or help."));
            }

            if (word is not null && action is { } a)
            {
                keywords.Add(new Keyword(word, a, language, type));
            }
        }

        return keywords;
    }

    private static Dictionary<string, KeywordTexts>? ReadTexts(JsonElement obj, List<InputError> errors)
    {
        if (obj.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new InputError("/texts", "An object by language: {\"en\": {\"optOut\", \"optIn\", \"help\"}}."));
            return null;
        }

        var texts = new Dictionary<string, KeywordTexts>(StringComparer.OrdinalIgnoreCase);
        foreach (var language in obj.EnumerateObject())
        {
            var at = "/texts/" + language.Name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
            if (language.Value.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new InputError(at, "An object {\"optOut\", \"optIn\", \"help\"}."));
                continue;
            }

            string? optOut = null, optIn = null, help = null;
            foreach (var m in language.Value.EnumerateObject())
            {
                switch (m.Name)
                {
                    case "optOut":
                        optOut = String(m.Value, at + "/optOut", errors, required: true);
                        break;
                    case "optIn":
                        optIn = String(m.Value, at + "/optIn", errors, required: true);
                        break;
                    case "help":
                        help = String(m.Value, at + "/help", errors, required: true);
                        break;
                    default:
                        errors.Add(new InputError(at + "/" + m.Name, "Unknown member: optOut, optIn and help are known."));
                        break;
                }
            }

            // Missing texts are reported by KeywordSettings.Check, located.
            if (!texts.TryAdd(language.Name, new KeywordTexts(optOut!, optIn!, help!)))
            {
                errors.Add(new InputError(at, "Listed twice (languages compare case-insensitively)."));
            }
        }

        return texts;
    }

    private static string? String(JsonElement value, string pointer, List<InputError> errors, bool required)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }

        if (value.ValueKind != JsonValueKind.Null || required)
        {
            errors.Add(new InputError(pointer, required ? "Required: a string." : "A string or null."));
        }

        return null;
    }

    private static KeywordAction? Invalid(string pointer, string detail, List<InputError> errors)
    {
        errors.Add(new InputError(pointer, detail));
        return null;
    }

    private static KeywordSettingsView View(KeywordSettings? settings)
    {
        var effective = settings ?? KeywordSettings.Defaults;
        return new KeywordSettingsView(effective.Keywords, effective.Texts, settings is not null);
    }

    private static JsonObject Node(KeywordSettings? settings) => settings is null
        ? new JsonObject { ["configured"] = false }
        : JsonNode.Parse(KeywordSettingsJson.Serialize(settings))!.AsObject();
}
