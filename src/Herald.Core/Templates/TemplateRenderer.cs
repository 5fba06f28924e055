using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fluid;
using Fluid.Values;
using Herald.Core.Notifications;

namespace Herald.Core.Templates;

/// <summary>A located problem in a template's Liquid source.</summary>
/// <param name="Field">Which part: "body", "subject", "html" or "whatsApp/parameters/{i}".</param>
/// <param name="Line">1-based line, when the parser named one.</param>
/// <param name="Column">1-based column, when the parser named one.</param>
public sealed record TemplateError(string Field, string Message, int? Line, int? Column)
{
    /// <summary>A <see cref="TemplateLimitException"/> code when the trial rendering broke a limit; null for other errors.</summary>
    public string? Code { get; init; }
}

/// <summary>What a template sees besides the notification's data: the customer and the formatting context.</summary>
/// <param name="Customer">Flat customer fields (id, language, timezone, free attributes); null for inline-only notifications.</param>
/// <param name="Language">Picks number and date formats (see <see cref="LocalFormats"/>).</param>
/// <param name="TimeZone">Dates are shown in this zone; UTC when null.</param>
public sealed record RenderContext(IReadOnlyDictionary<string, string>? Customer, string? Language, TimeZoneInfo? TimeZone)
{
    /// <summary>The notification is a digest's sent message: its <c>data.digest</c> ({count, items}) is also the
    /// top-level <c>digest</c> of the model. Only then, so a bank's own <c>data.digest</c> field never poses as one.</summary>
    public bool Digest { get; init; }
}

/// <summary>
/// Renders Liquid templates with Fluid. Each template version is parsed once and kept (bounded); rendering is
/// sandboxed: a step and recursion budget, no includes, no access to .NET objects (the model is only dictionaries,
/// lists and plain values), unknown filters are errors. A rendering's output, the values it builds, its ranges and its
/// time are bounded while it runs (<see cref="TemplateLimits"/>); breaking one throws <see cref="TemplateLimitException"/>.
/// Thread-safe.
/// </summary>
/// <param name="time">Measures each rendering against <see cref="TemplateLimits.RenderTime"/>.</param>
public sealed partial class TemplateRenderer(TimeProvider time)
{
    /// <summary>Statements and output steps one rendering may take before it is stopped.</summary>
    public const int MaxSteps = 10_000;
    public const int MaxRecursion = 16;
    private const int MaxCachedVersions = 10_000;

    private static readonly FluidParser Parser = new();

    // Encodes what is markup (<, >, &, quotes) and keeps every letter as it is: a German or Cyrillic email stays readable
    // in its source, not a run of numeric entities.
    private static readonly HtmlEncoder Html = HtmlEncoder.Create(System.Text.Unicode.UnicodeRanges.All);
    private readonly TemplateOptions _options = CreateOptions();
    private readonly ConcurrentDictionary<(Guid Id, int Version), Parsed> _parsed = new();

    public TemplateRenderer()
        : this(TimeProvider.System)
    {
    }

    private static TemplateOptions CreateOptions()
    {
        var options = new TemplateOptions
        {
            MaxSteps = MaxSteps,
            MaxRecursion = MaxRecursion,
            StrictFilters = true,
            CultureInfo = CultureInfo.InvariantCulture,
            TimeZone = TimeZoneInfo.Utc,
        };
        TemplateFilters.Register(options.Filters);
        TemplateGuards.Apply(options);
        return options;
    }

    /// <summary>Checks every Liquid part of <paramref name="template"/>: syntax (with line and column) and a trial
    /// rendering against an empty model (unknown filters, the step budget, the channel's output cap: a template whose
    /// own text is already over it, or that builds too much from nothing, is refused here rather than at send time).</summary>
    public IReadOnlyList<TemplateError> Validate(MessageTemplate template)
    {
        var errors = new List<TemplateError>();
        var started = time.GetTimestamp();
        foreach (var (field, source) in Parts(template))
        {
            if (!TryParse(source, out var parsed, out var error))
            {
                errors.Add(error! with { Field = field });
                continue;
            }

            try
            {
                Render(parsed!, EmptyData, new RenderContext(null, null, null), "validation", null, new Part(template.Channel, field, started));
            }
            catch (TemplateLimitException e)
            {
                errors.Add(new TemplateError(field, e.Message, null, null) { Code = e.Code });
            }
            catch (Exception e) when (e is FluidException or InvalidOperationException or ArgumentException)
            {
                errors.Add(new TemplateError(field, e.Message, null, null));
            }
        }

        return errors;
    }

    /// <summary>Renders <paramref name="template"/> for a notification. Throws <see cref="TemplateLimitException"/>
    /// when the rendering breaks a limit of <see cref="TemplateLimits"/> (the notification cannot be sent with this
    /// template), and other exceptions when the template fails otherwise (a filter's error; callers fall back to the
    /// default text).</summary>
    /// <param name="cached">False for a template that is not stored (a preview of an editor's text): it is parsed for
    /// this rendering only. The cache is keyed by id and version, which an unsaved template does not have.</param>
    public RenderedMessage Render(MessageTemplate template, string type, string dataJson, RenderContext context, bool cached = true)
    {
        var started = time.GetTimestamp();
        var channel = template.Channel;
        var parsed = cached ? Get(template) : Parse(template);
        using var data = JsonDocument.Parse(dataJson);
        var dataValue = ToFluid(data.RootElement);
        var digest = context.Digest && data.RootElement.ValueKind == JsonValueKind.Object && data.RootElement.TryGetProperty("digest", out var d)
            ? ToFluid(d)
            : null;
        var text = Render(parsed.Body, dataValue, context, type, digest, new Part(channel, "body", started));
        var subject = parsed.Subject is null ? null : OneLine(Render(parsed.Subject, dataValue, context, type, digest, new Part(channel, "subject", started)));
        RenderedWhatsAppTemplate? whatsApp = null;
        if (template.WhatsApp is { } mapping)
        {
            var parameters = new string[parsed.Parameters.Length];
            for (var i = 0; i < parameters.Length; i++)
            {
                parameters[i] = Render(parsed.Parameters[i], dataValue, context, type, digest, new Part(channel, $"whatsApp/parameters/{i}", started));
            }

            whatsApp = new RenderedWhatsAppTemplate(mapping.Name, mapping.Language, parameters);
        }

        return new RenderedMessage(text, subject, whatsApp)
        {
            Html = parsed.Html is null ? null : Render(parsed.Html, dataValue, context, type, digest, new Part(channel, "html", started)),
        };
    }

    /// <summary>Which part of a template for which channel is rendered, and when the whole rendering started.</summary>
    private sealed record Part(Channel Channel, string Field, long StartedAt);

    /// <param name="part">Its field "html": every value written into it is HTML-encoded (the template's own markup is not).</param>
    private string Render(IFluidTemplate template, FluidValue data, RenderContext context, string type, FluidValue? digest, Part part)
    {
        var budget = new RenderBudget(TemplateLimits.Output(part.Channel, part.Field), time, part.StartedAt);
        var liquid = new TemplateContext(_options)
        {
            TimeZone = context.TimeZone ?? TimeZoneInfo.Utc,
        };
        budget.Attach(liquid);
        liquid.AmbientValues[TemplateFilters.LanguageKey] = context.Language ?? "";
        liquid.SetValue("data", data);
        liquid.SetValue("type", StringValue.Create(type));
        liquid.SetValue("customer", context.Customer is null ? NilValue.Instance : ToFluid(context.Customer));
        if (digest is not null)
        {
            liquid.SetValue("digest", digest);
        }

        // The output goes straight into a writer held to the channel's cap: it stops the rendering where it crosses it.
        var writer = new BoundedWriter(budget, budget.Cap, "The " + part.Field.Replace('/', ' '));
        try
        {
            // Herald's filters are synchronous, so this completes at once (what Fluid's own Render does too).
            var rendering = template.RenderAsync(writer, part.Field == "html" ? Html : NullEncoder.Default, liquid);
            if (!rendering.IsCompletedSuccessfully)
            {
                rendering.AsTask().GetAwaiter().GetResult();
            }
        }
        catch (TemplateLimitException e)
        {
            throw new TemplateLimitException(e.Code, e.Message) { Field = part.Field };
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("The maximum", StringComparison.Ordinal))
        {
            // Fluid's own step and recursion budget.
            throw new TemplateLimitException(TemplateLimitException.Budget,
                $"The template took more than {MaxSteps.ToString("N0", CultureInfo.InvariantCulture)} steps or {MaxRecursion} levels of recursion.") { Field = part.Field };
        }

        return writer.ToString();
    }

    private Parsed Get(MessageTemplate template)
    {
        if (_parsed.TryGetValue((template.Id, template.Version), out var parsed))
        {
            return parsed;
        }

        if (_parsed.Count >= MaxCachedVersions)
        {
            // Crude but bounded: versions are few per tenant, so a full cache means churn; start over.
            _parsed.Clear();
        }

        parsed = Parse(template);
        _parsed[(template.Id, template.Version)] = parsed;
        return parsed;
    }

    private static Parsed Parse(MessageTemplate template) =>
        new(
            ParseOrThrow(template.Body),
            template.Subject is null ? null : ParseOrThrow(template.Subject),
            template.WhatsApp is null ? [] : [.. template.WhatsApp.Parameters.Select(p => ParseOrThrow(ParameterSource(p)))])
        {
            Html = template.Html is null ? null : ParseOrThrow(template.Html),
        };

    private static IFluidTemplate ParseOrThrow(string source) =>
        TryParse(source, out var template, out var error) ? template! : throw new FormatException(error!.Message);

    private static bool TryParse(string source, out IFluidTemplate? template, out TemplateError? error)
    {
        if (Parser.TryParse(source, out template, out var message))
        {
            template = TemplateGuards.Apply(template);
            error = null;
            return true;
        }

        // Fluid reports "<what> at (line:column)" followed by the offending source line.
        var firstLine = message.Split('\n')[0].Trim();
        var match = PositionPattern().Match(firstLine);
        error = match.Success
            ? new TemplateError("", firstLine[..match.Index].Trim(), int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture))
            : new TemplateError("", firstLine, null, null);
        return false;
    }

    private static IEnumerable<(string Field, string Source)> Parts(MessageTemplate template)
    {
        yield return ("body", template.Body);
        if (template.Subject is not null)
        {
            yield return ("subject", template.Subject);
        }

        if (template.Html is not null)
        {
            yield return ("html", template.Html);
        }

        if (template.WhatsApp is { } mapping)
        {
            for (var i = 0; i < mapping.Parameters.Count; i++)
            {
                yield return ($"whatsApp/parameters/{i}", ParameterSource(mapping.Parameters[i]));
            }
        }
    }

    /// <summary>A WhatsApp parameter is a Liquid expression; "{{ ... }}" around it is optional.</summary>
    private static string ParameterSource(string expression) =>
        expression.Contains("{{", StringComparison.Ordinal) || expression.Contains("{%", StringComparison.Ordinal) ? expression : "{{ " + expression + " }}";

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    private static readonly FluidValue EmptyData = new DictionaryValue(new FluidValueDictionaryFluidIndexable(new Dictionary<string, FluidValue>()));

    private static FluidValue ToFluid(IReadOnlyDictionary<string, string> fields)
    {
        var map = new Dictionary<string, FluidValue>(fields.Count, StringComparer.Ordinal);
        foreach (var (key, value) in fields)
        {
            map[key] = StringValue.Create(value);
        }

        return new DictionaryValue(new FluidValueDictionaryFluidIndexable(map));
    }

    private static FluidValue ToFluid(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var map = new Dictionary<string, FluidValue>(StringComparer.Ordinal);
                foreach (var p in e.EnumerateObject())
                {
                    map[p.Name] = ToFluid(p.Value);
                }

                return new DictionaryValue(new FluidValueDictionaryFluidIndexable(map));
            case JsonValueKind.Array:
                return new ArrayValue([.. e.EnumerateArray().Select(ToFluid)]);
            case JsonValueKind.String:
                return StringValue.Create(e.GetString()!);
            case JsonValueKind.Number:
                return e.TryGetDecimal(out var d) ? NumberValue.Create(d) : StringValue.Create(e.GetRawText());
            case JsonValueKind.True:
                return BooleanValue.True;
            case JsonValueKind.False:
                return BooleanValue.False;
            default:
                return NilValue.Instance;
        }
    }

    [GeneratedRegex(@"\bat \((\d+):(\d+)\)")]
    private static partial Regex PositionPattern();

    private sealed record Parsed(IFluidTemplate Body, IFluidTemplate? Subject, IFluidTemplate[] Parameters)
    {
        public IFluidTemplate? Html { get; init; }
    }
}
