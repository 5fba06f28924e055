using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Herald.Core.Notifications;
using Herald.Core.Templates;
using Herald.Ingest;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Server.Notifications;
using Herald.Storage;

namespace Herald.Server.Templates;

/// <summary>The body of <c>POST /v1/templates</c> (docs/TEMPLATES.md).</summary>
public sealed record TemplateBody
{
    public string? Name { get; init; }
    public Channel? Channel { get; init; }
    public string? Language { get; init; }
    public string? Subject { get; init; }
    public string? Body { get; init; }

    /// <summary>Email only: the HTML part (Liquid; values are HTML-encoded when rendered).</summary>
    public string? Html { get; init; }

    public WhatsAppTemplateBody? WhatsApp { get; init; }
}

/// <param name="Parameters">One Liquid expression per body parameter, in order ({{1}}, {{2}}, ...).</param>
public sealed record WhatsAppTemplateBody(string? Name, string? Language, IReadOnlyList<string>? Parameters);

public sealed record TemplateView(
    Guid Id, string Name, Channel Channel, string? Language, string? Subject, string Body, WhatsAppTemplateBody? WhatsApp, int Version,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? Html = null)
{
    public static TemplateView From(MessageTemplate t) => new(
        t.Id, t.Name, t.Channel, t.Language, t.Subject, t.Body,
        t.WhatsApp is { } w ? new WhatsAppTemplateBody(w.Name, w.Language, w.Parameters) : null, t.Version, t.CreatedAt, t.UpdatedAt, t.Html);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(TemplateBody))]
[JsonSerializable(typeof(TemplateView))]
[JsonSerializable(typeof(List<TemplateView>))]
public sealed partial class TemplatesJson : JsonSerializerContext;

/// <summary><c>/v1/templates</c>: the tenant's Liquid templates (SPEC §3), validated on save.</summary>
public static partial class TemplatesApi
{
    public const int MaxBodyLength = 4096;
    public const int MaxSubjectLength = 256;
    public const int MaxHtmlLength = 64 * 1024;
    public const int MaxParameters = 20;

    public static IEndpointRouteBuilder MapTemplatesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/templates").WithTags("Templates");
        group.MapGet("/", ListAsync).RequireAuthorization(Policies.Read)
            .WithName("listTemplates").WithSummary("Lists the tenant's templates")
            .Produces<List<TemplateView>>();
        group.MapGet("/{id:guid}", GetAsync).RequireAuthorization(Policies.Read)
            .WithName("getTemplate").WithSummary("Reads a template")
            .Produces<TemplateView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/", SaveAsync).RequireAuthorization(Policies.Admin)
            .WithName("saveTemplate").WithSummary("Creates or replaces the template of a notification type, channel and language")
            .Produces<TemplateView>().Produces<TemplateView>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapDelete("/{id:guid}", DeleteAsync).RequireAuthorization(Policies.Admin)
            .WithName("deleteTemplate").WithSummary("Deletes a template")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblems(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<IResult> ListAsync(HttpRequest request, ClaimsPrincipal user, ITemplateStore store, CancellationToken ct)
    {
        var name = request.Query["name"].FirstOrDefault();
        var all = await store.ListAsync(user.TenantId(), ct);
        return TypedResults.Json([.. all.Where(t => name is null || t.Name == name).Select(TemplateView.From)], TemplatesJson.Default.ListTemplateView);
    }

    private static async Task<IResult> GetAsync(Guid id, ClaimsPrincipal user, ITemplateStore store, CancellationToken ct) =>
        await store.GetAsync(user.TenantId(), id, ct) is { } t
            ? TypedResults.Json(TemplateView.From(t), TemplatesJson.Default.TemplateView)
            : Problems.NotFound("Template");

    /// <summary>Creates the template, or replaces the one with the same name, channel and language (a new version).</summary>
    private static async Task<IResult> SaveAsync(
        HttpRequest request, ClaimsPrincipal user, ITemplateStore store, TemplateRenderer renderer, CancellationToken ct)
    {
        var (raw, error) = await RequestBody.ReadJsonAsync(request, 64 * 1024);
        if (error is not null)
        {
            return error;
        }

        TemplateBody? body;
        try
        {
            body = JsonSerializer.Deserialize(raw.Span, TemplatesJson.Default.TemplateBody);
        }
        catch (JsonException e)
        {
            return Problems.Invalid([new InputError(RequestBody.Pointer(e.Path), e.Message.Contains("could not be mapped", StringComparison.Ordinal) ? "Unknown field." : "Malformed JSON or a value of the wrong type.")], "The template is invalid.");
        }

        var tenantId = user.TenantId();
        var (template, errors) = Validate(body ?? new TemplateBody(), tenantId, renderer);
        if (template is null)
        {
            return Problems.Invalid(errors, "The template is invalid.");
        }

        var existing = (await store.ListAsync(tenantId, ct)).FirstOrDefault(t =>
            t.Name == template.Name && t.Channel == template.Channel && string.Equals(t.Language, template.Language, StringComparison.OrdinalIgnoreCase));
        MessageTemplate stored;
        bool created;
        using (request.HttpContext.Audit(tenantId, existing is null ? "template.create" : "template.update", "template", ResourceId(template),
                   existing is null ? null : Audited(existing), Audited(template)))
        {
            (stored, created) = await store.SaveAsync(template, ct);
        }

        request.HttpContext.Response.Headers.Location = $"/v1/templates/{stored.Id}";
        return TypedResults.Json(TemplateView.From(stored), TemplatesJson.Default.TemplateView,
            statusCode: created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static async Task<IResult> DeleteAsync(Guid id, HttpContext context, ClaimsPrincipal user, ITemplateStore store, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        if (await store.GetAsync(tenantId, id, ct) is not { } existing)
        {
            return Problems.NotFound("Template");
        }

        bool deleted;
        using (context.Audit(tenantId, "template.delete", "template", ResourceId(existing), Audited(existing), null))
        {
            deleted = await store.DeleteAsync(tenantId, id, ct);
        }

        return deleted ? TypedResults.NoContent() : Problems.NotFound("Template");
    }

    /// <summary>A template's identity in the audit trail: name, channel and language (what a save replaces by).</summary>
    private static string ResourceId(MessageTemplate t) =>
        $"{t.Name}:{t.Channel.ToString().ToLowerInvariant()}:{t.Language ?? "default"}";

    private static System.Text.Json.Nodes.JsonNode? Audited(MessageTemplate t) =>
        AuditRecorder.Without(AuditRecorder.Node(TemplateView.From(t), TemplatesJson.Default.TemplateView), "id", "version", "createdAt", "updatedAt");

    /// <summary>Checks a template body, its Liquid included (syntax errors carry line and column).</summary>
    public static (MessageTemplate? Template, IReadOnlyList<InputError> Errors) Validate(TemplateBody b, Guid tenantId, TemplateRenderer renderer)
    {
        var errors = new List<InputError>();
        if (b.Name is null || b.Name.Length > 64 || !NamePattern().IsMatch(b.Name))
        {
            errors.Add(new("/name", "Required: 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter (a notification type or a name rules choose)."));
        }

        if (b.Channel is null)
        {
            errors.Add(new("/channel", "Required: whatsapp, telegram, sms, email or push."));
        }

        if (b.Language is not null && !LanguagePattern().IsMatch(b.Language))
        {
            errors.Add(new("/language", "Must be a BCP 47 language tag, e.g. \"en\" or \"pt-BR\"; leave it out for the default wording."));
        }

        if (b.Subject is not null && b.Channel is not Channel.Email)
        {
            errors.Add(new("/subject", "Only email templates have a subject."));
        }
        else if (b.Subject is { Length: 0 or > MaxSubjectLength })
        {
            errors.Add(new("/subject", $"Must be 1 to {MaxSubjectLength} characters."));
        }

        if (b.Html is not null && b.Channel is not Channel.Email)
        {
            errors.Add(new("/html", "Only email templates have an HTML part."));
        }
        else if (b.Html is { Length: 0 or > MaxHtmlLength })
        {
            errors.Add(new("/html", $"Must be 1 to {MaxHtmlLength} characters."));
        }

        if (b.WhatsApp is { } w)
        {
            if (b.Channel is not Channel.WhatsApp)
            {
                errors.Add(new("/whatsApp", "Only WhatsApp templates map to a Meta approved template."));
            }

            if (w.Name is null || w.Name.Length > 512 || !MetaNamePattern().IsMatch(w.Name))
            {
                errors.Add(new("/whatsApp/name", "Required: the approved template's name at Meta (a-z, 0-9, '_')."));
            }

            if (w.Language is null || !MetaLanguagePattern().IsMatch(w.Language))
            {
                errors.Add(new("/whatsApp/language", "Required: the approved template's language code at Meta, e.g. \"en_US\" or \"pt_BR\"."));
            }

            if (w.Parameters is { Count: > MaxParameters })
            {
                errors.Add(new("/whatsApp/parameters", $"At most {MaxParameters} body parameters."));
            }

            for (var i = 0; i < (w.Parameters?.Count ?? 0); i++)
            {
                if (w.Parameters![i] is not { Length: > 0 and <= 1000 })
                {
                    errors.Add(new($"/whatsApp/parameters/{i}", "Must be a Liquid expression of 1 to 1000 characters, e.g. \"data.amount | money: data.currency\"."));
                }
            }
        }

        if (b.Body is null && b.WhatsApp is null)
        {
            errors.Add(new("/body", "Required: the message text (Liquid)."));
        }
        else if (b.Body is { Length: 0 or > MaxBodyLength })
        {
            errors.Add(new("/body", $"Must be 1 to {MaxBodyLength} characters."));
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var template = new MessageTemplate(
            Guid.Empty, tenantId, b.Name!, b.Channel!.Value, b.Language, b.Subject, b.Body ?? "",
            b.WhatsApp is { } m ? new WhatsAppTemplateMapping(m.Name!, m.Language!, m.Parameters ?? []) : null, 0, default, default)
        {
            Html = b.Html,
        };
        foreach (var e in renderer.Validate(template))
        {
            var where = e.Line is { } line ? string.Create(CultureInfo.InvariantCulture, $" (line {line}, column {e.Column})") : "";
            errors.Add(new("/" + e.Field, $"Liquid error{where}: {e.Message}"));
        }

        return errors.Count > 0 ? (null, errors) : (template, errors);
    }

    [GeneratedRegex("^[a-z][a-z0-9_.-]*$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")]
    private static partial Regex LanguagePattern();

    [GeneratedRegex("^[a-z0-9_]+$")]
    private static partial Regex MetaNamePattern();

    [GeneratedRegex("^[a-z]{2,3}(_[A-Z]{2})?$")]
    private static partial Regex MetaLanguagePattern();
}
