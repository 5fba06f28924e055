using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Channels.Sms.Smpp;
using Herald.Core.Notifications;
using Herald.Core.Templates;
using Herald.Ingest;
using Herald.Server.Authentication;
using Herald.Server.Notifications;

namespace Herald.Server.Templates;

/// <summary>The body of <c>POST /v1/templates/preview</c>: a template as for <c>POST /v1/templates</c> (saved or not)
/// and the sample it is rendered with.</summary>
/// <param name="Type">The notification type the template sees as <c>type</c>; the template's name when absent.</param>
/// <param name="Data">The notification's <c>data</c>; an empty object when absent.</param>
/// <param name="Customer">The stored customer's attributes as templates see them (<c>customer.name</c>, …).</param>
public sealed record TemplatePreviewRequest(TemplateBody? Template, string? Type, JsonElement? Data, IReadOnlyDictionary<string, string>? Customer);

/// <summary>One rendered part and how much of its channel's limit it uses (docs/TEMPLATES.md "Limits").</summary>
/// <param name="Part"><c>body</c>, <c>subject</c>, <c>html</c> or <c>whatsApp/parameters/{i}</c>.</param>
/// <param name="Used">Characters, or UTF-8 bytes where <paramref name="Unit"/> says so (push).</param>
/// <param name="Segments">SMS only: the segments the body is billed as (at most <see cref="TemplateLimits.SmsSegments"/>).</param>
public sealed record TemplatePartUse(string Part, int Used, int Max, string Unit, int? Segments = null);

/// <summary>The answer of <c>POST /v1/templates/preview</c>: the message as delivery renders it; nothing is stored.</summary>
public sealed record TemplatePreviewView(
    string Channel, string? Language, string Text, string? Subject, string? Html, IReadOnlyList<string>? WhatsAppParameters, IReadOnlyList<TemplatePartUse> Parts);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(TemplatePreviewRequest))]
[JsonSerializable(typeof(TemplatePreviewView))]
public sealed partial class TemplatePreviewJson : JsonSerializerContext;

/// <summary>
/// <c>POST /v1/templates/preview</c>: renders a template (the console's editor text, saved or not) with sample data
/// through the same validation (<see cref="TemplatesApi.Validate"/>) and the same renderer, limits and SMS segment
/// check as delivery (<see cref="Delivery.MessageComposer"/>), and says how much of each part's limit it uses. Stores nothing.
/// </summary>
public static class TemplatePreviewApi
{
    private const int MaxBytes = 128 * 1024;

    public static IEndpointRouteBuilder MapTemplatePreviewApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/templates/preview", PreviewAsync)
            .WithTags("Templates")
            .RequireAuthorization(Policies.Read)
            .WithName("previewTemplate")
            .WithSummary("Render a template with sample data")
            .WithDescription("Renders a template (as for POST /v1/templates, saved or not) with sample type, data and customer fields, exactly as delivery renders it, and reports each part's size against the channel's limit. Nothing is stored.")
            .Accepts<TemplatePreviewRequest>("application/json")
            .Produces<TemplatePreviewView>()
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status422UnprocessableEntity);
        return app;
    }

    private static async Task<IResult> PreviewAsync(HttpRequest request, ClaimsPrincipal user, TemplateRenderer renderer)
    {
        var (body, error) = await RequestBody.ReadJsonAsync(request, MaxBytes, TemplatePreviewJson.Default.TemplatePreviewRequest);
        if (error is not null)
        {
            return error;
        }

        if (body!.Template is null)
        {
            return Problems.Invalid([new InputError("/template", "Required: the template to render, as for POST /v1/templates.")]);
        }

        var (template, errors) = TemplatesApi.Validate(body.Template, user.TenantId(), renderer);
        var located = errors.Select(e => e with { Pointer = "/template" + e.Pointer }).ToList();
        if (body.Data is { } d && d.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
        {
            located.Add(new InputError("/data", "Must be a JSON object, like a notification's data."));
        }

        if (template is null || located.Count > 0)
        {
            return Problems.Invalid(located, "The template or its sample is invalid.");
        }

        var data = body.Data is { ValueKind: JsonValueKind.Object } given ? given.GetRawText() : "{}";
        var context = new RenderContext(body.Customer, template.Language, null);
        RenderedMessage rendered;
        try
        {
            // Not cached: the renderer's cache is keyed by a stored template's id and version, which this one lacks.
            rendered = renderer.Render(template, body.Type ?? template.Name, data, context, cached: false);
        }
        catch (TemplateLimitException e)
        {
            // What delivery does with it: the attempt fails permanently with this code.
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, e.Code.Replace('_', '-'), "The template breaks its limits for this sample.",
                $"Delivery would fail the attempt ({e.Code}) without sending it.", [new InputError("/template/" + (e.Field ?? "body"), e.Message)]);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Delivery logs it and sends the default text instead (MessageComposer).
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, "template-failed", "The template fails for this sample.",
                "Delivery would send the default text instead of this template.", [new InputError("/template/body", e.Message)]);
        }

        var channel = template.Channel;
        var parts = new List<TemplatePartUse> { Use(channel, "body", rendered.Text) };
        if (channel == Channel.Sms)
        {
            // Null: more parts than SMPP can number, far past the limit.
            var segments = SmsText.Encode(rendered.Text, 0)?.Parts.Count ?? SmsText.MaxParts + 1;
            parts[0] = parts[0] with { Segments = segments };
            if (segments > TemplateLimits.SmsSegments)
            {
                // MessageComposer's exact check after rendering: a Unicode text needs more segments for its length.
                return Problems.Result(StatusCodes.Status422UnprocessableEntity, "template-too-large", "The template breaks its limits for this sample.",
                    $"Delivery would fail the attempt ({TemplateLimitException.TooLarge}) without sending it.",
                    [new InputError("/template/body", $"The body needs {segments} SMS segments; at most {TemplateLimits.SmsSegments}.")]);
            }
        }

        if (rendered.Subject is { } subject)
        {
            parts.Add(Use(channel, "subject", subject));
        }

        if (rendered.Html is { } html)
        {
            parts.Add(Use(channel, "html", html));
        }

        var parameters = rendered.WhatsApp?.Parameters;
        for (var i = 0; i < (parameters?.Count ?? 0); i++)
        {
            parts.Add(Use(channel, $"whatsApp/parameters/{i}", parameters![i]));
        }

        return TypedResults.Json(
            new TemplatePreviewView(channel.ToString().ToLowerInvariant(), template.Language, rendered.Text, rendered.Subject, rendered.Html, parameters, parts),
            TemplatePreviewJson.Default.TemplatePreviewView);
    }

    private static TemplatePartUse Use(Channel channel, string part, string text)
    {
        var cap = TemplateLimits.Output(channel, part);
        return new TemplatePartUse(part, cap.Utf8Bytes ? Encoding.UTF8.GetByteCount(text) : text.Length, cap.Max, cap.Unit);
    }
}
