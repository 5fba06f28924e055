using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.RegularExpressions;
using Fluid;
using Fluid.Ast;
using Fluid.Values;

namespace Herald.Core.Templates;

/// <summary>
/// The limits of one rendering (one part of a template): the output cap, the cap on values the template builds, the
/// longest range and the wall-clock deadline. Fluid's own budget counts steps only, and a step can double a string
/// (<c>assign s = s | append: s</c>), materialise a range of millions (<c>(1..50000000)</c>) or pad a date to 100 million
/// characters, so every place a template can make something big checks here before or right after it does:
/// the writer (<see cref="BoundedWriter"/>), assign and capture (<see cref="TemplateGuards"/>), every filter's result,
/// and the filters whose result can be a product of their inputs (replace, join, split, date) before they run.
/// </summary>
internal sealed class RenderBudget(OutputCap cap, TimeProvider time, long startedAt)
{
    private const string AmbientKey = "herald.budget";

    /// <summary>What an element of an array costs besides its own content (a reference and a value object).</summary>
    private const int ElementCost = 8;

    public OutputCap Cap { get; } = cap;

    public static RenderBudget? Of(TemplateContext context) =>
        context.AmbientValues.TryGetValue(AmbientKey, out var value) ? value as RenderBudget : null;

    public void Attach(TemplateContext context) => context.AmbientValues[AmbientKey] = this;

    /// <summary>Throws once the rendering has run longer than <see cref="TemplateLimits.RenderTime"/>.</summary>
    public void CheckTime()
    {
        if (time.GetElapsedTime(startedAt) > TemplateLimits.RenderTime)
        {
            throw new TemplateLimitException(TemplateLimitException.Budget,
                $"The template ran longer than its render budget ({TemplateLimits.RenderTime.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s).");
        }
    }

    /// <summary>Throws when <paramref name="value"/> (a string's length; an array's elements and their content) is
    /// larger than the value cap; counting stops at the cap, so checking a big value costs no more than the cap.</summary>
    public FluidValue CheckValue(FluidValue value, string what)
    {
        CheckTime();
        if (Size(value, Cap.ValueCap) > Cap.ValueCap)
        {
            throw TooLarge(what);
        }

        return value;
    }

    /// <summary>Throws before a value of <paramref name="size"/> is built when it would be over the value cap.</summary>
    public void CheckPlanned(long size, string what)
    {
        if (size > Cap.ValueCap)
        {
            throw TooLarge(what);
        }
    }

    public TemplateLimitException TooLarge(string what) => new(TemplateLimitException.TooLarge,
        $"{what} grew past {Cap.ValueCap.ToString("N0", CultureInfo.InvariantCulture)} characters, the most a template may build.");

    private static long Size(FluidValue value, long limit)
    {
        switch (value)
        {
            case StringValue s:
                return s.ToStringValue().Length;
            case ArrayValue a:
                long total = 0;
                foreach (var item in a.Values)
                {
                    total += ElementCost + Size(item, limit - total);
                    if (total > limit)
                    {
                        return total;
                    }
                }

                return total;
            default:
                return ElementCost;
        }
    }
}

/// <summary>A text writer that holds at most a cap of characters (or UTF-8 bytes) and throws when a write would cross
/// it: the rendered output never grows past its channel's limit in memory.</summary>
internal sealed class BoundedWriter(RenderBudget budget, OutputCap cap, string what) : TextWriter
{
    private readonly StringBuilder _text = new();
    private long _size;

    public override Encoding Encoding => Encoding.Unicode;

    public override void Write(char value) => Write([value]);

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override void Write(string? value) => Write(value.AsSpan());

    public override void Write(ReadOnlySpan<char> buffer)
    {
        budget.CheckTime();
        _size += cap.Utf8Bytes ? Utf8Length(buffer) : buffer.Length;
        if (_size > cap.Max)
        {
            throw new TemplateLimitException(TemplateLimitException.TooLarge,
                $"{what} renders more than {cap.Max.ToString("N0", CultureInfo.InvariantCulture)} {cap.Unit}.");
        }

        _text.Append(buffer);
    }

    public override Task WriteAsync(char value)
    {
        Write(value);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(string? value)
    {
        Write(value);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(char[] buffer, int index, int count)
    {
        Write(buffer, index, count);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return Task.CompletedTask;
    }

    public override string ToString() => _text.ToString();

    // Counted per UTF-16 unit: a surrogate pair is 4 bytes in UTF-8, 2 per half.
    private static long Utf8Length(ReadOnlySpan<char> text)
    {
        long bytes = 0;
        foreach (var c in text)
        {
            bytes += c < 0x80 ? 1 : c < 0x800 || char.IsSurrogate(c) ? 2 : 3;
        }

        return bytes;
    }
}

/// <summary>
/// Puts <see cref="RenderBudget"/> into Fluid: rewrites a parsed template so ranges are bounded and captures write into
/// a bounded writer, and wraps every filter so its result is checked (and the multiplying ones are checked before they
/// run). Applied once per parsed template and once per <see cref="TemplateOptions"/>.
/// </summary>
internal static partial class TemplateGuards
{
    /// <summary>Fluid filters left out: each formats with .NET format strings whose width or precision is a number the
    /// template chooses (<c>'{0,999999}'</c>, <c>'D99999999'</c>), and the channels need none of them (Herald's own
    /// <c>money</c> and <c>local_date</c> format numbers and dates).</summary>
    public static readonly string[] RemovedFilters = ["format_string", "format_number", "format_date"];

    public static void Apply(TemplateOptions options)
    {
        foreach (var name in RemovedFilters)
        {
            options.Filters.Remove(name);
        }

        foreach (var (name, filter) in options.Filters.ToList())
        {
            options.Filters.AddFilter(name, Guard(name, filter));
        }

        options.Assigned = static (identifier, value, context) =>
            new(RenderBudget.Of(context)?.CheckValue(value, $"The value assigned to '{identifier}'") ?? value);
        options.Captured = static (identifier, value, context) =>
            new(RenderBudget.Of(context)?.CheckValue(value, $"The value captured into '{identifier}'") ?? value);
    }

    public static IFluidTemplate Apply(IFluidTemplate template) => new BudgetRewriter().VisitTemplate(template);

    private static FilterDelegate Guard(string name, FilterDelegate filter) => (input, arguments, context) =>
    {
        var budget = RenderBudget.Of(context);
        if (budget is null)
        {
            return filter(input, arguments, context);
        }

        budget.CheckTime();
        Plan(name, input, arguments, budget);
        var result = filter(input, arguments, context);
        return result.IsCompletedSuccessfully
            ? new(budget.CheckValue(result.Result, $"The result of '{name}'"))
            : Checked(result, budget, name);
    };

    private static async ValueTask<FluidValue> Checked(ValueTask<FluidValue> result, RenderBudget budget, string name) =>
        budget.CheckValue(await result, $"The result of '{name}'");

    /// <summary>The filters whose result can be far larger than their inputs: the size is worked out before they run.</summary>
    private static void Plan(string name, FluidValue input, FilterArguments arguments, RenderBudget budget)
    {
        switch (name)
        {
            case "replace":
            {
                // Every occurrence grows by the replacement's extra length: a 30,000-character string with a
                // 30,000-character replacement for each of its characters would be 900 million characters.
                var text = input.ToStringValue();
                var search = arguments.At(0).ToStringValue();
                var replacement = arguments.At(1).ToStringValue();
                if (search.Length > 0 && replacement.Length > search.Length)
                {
                    budget.CheckPlanned(text.Length + ((long)Occurrences(text, search) * (replacement.Length - search.Length)), "The result of 'replace'");
                }

                break;
            }

            case "join" when input is ArrayValue array:
            {
                var separator = arguments.At(0).ToStringValue().Length;
                long size = 0;
                foreach (var item in array.Values)
                {
                    size += separator + (item is StringValue s ? s.ToStringValue().Length : 16);
                    budget.CheckPlanned(size, "The result of 'join'");
                }

                break;
            }

            case "split":
            {
                var text = input.ToStringValue();
                var separator = arguments.At(0).ToStringValue();
                var parts = separator.Length == 0 ? text.Length : Occurrences(text, separator) + 1;
                budget.CheckPlanned(text.Length + (8L * parts), "The result of 'split'");
                break;
            }

            case "date" when arguments.Count > 0:
            {
                foreach (Match width in DateWidth().Matches(arguments.At(0).ToStringValue()))
                {
                    if (width.Groups[1].Value.Length > 3 || int.Parse(width.Groups[1].Value, CultureInfo.InvariantCulture) > TemplateLimits.MaxDateWidth)
                    {
                        throw new TemplateLimitException(TemplateLimitException.TooLarge,
                            $"A 'date' format may pad to at most {TemplateLimits.MaxDateWidth} characters.");
                    }
                }

                break;
            }
        }
    }

    private static int Occurrences(string text, string search)
    {
        var count = 0;
        for (var at = text.IndexOf(search, StringComparison.Ordinal); at >= 0; at = text.IndexOf(search, at + search.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    // strftime: '%' then flags, then an optional width.
    [GeneratedRegex(@"%[-_0^#:]*(\d+)")]
    private static partial Regex DateWidth();

    /// <summary>Ranges become <see cref="BoundedRange"/> and captures <see cref="BoundedCapture"/>, everywhere in the tree.</summary>
    private sealed class BudgetRewriter : AstRewriter
    {
        public override Expression Visit(Expression expression) =>
            expression is RangeExpression range ? new BoundedRange(Visit(range.From), Visit(range.To)) : base.Visit(expression);

        public override Statement Visit(Statement statement)
        {
            var rewritten = base.Visit(statement);
            return rewritten is CaptureStatement capture ? new BoundedCapture(capture.Identifier, capture.Statements) : rewritten;
        }
    }

    /// <summary><c>(from..to)</c> with at most <see cref="TemplateLimits.MaxRange"/> numbers: Fluid builds the whole
    /// array before a loop counts a single step.</summary>
    private sealed class BoundedRange(Expression from, Expression to) : Expression
    {
        public override async ValueTask<FluidValue> EvaluateAsync(TemplateContext context)
        {
            var start = (long)decimal.Truncate((await from.EvaluateAsync(context)).ToNumberValue());
            var end = (long)decimal.Truncate((await to.EvaluateAsync(context)).ToNumberValue());
            var count = Math.Max(0, end - start + 1);
            if (count > TemplateLimits.MaxRange)
            {
                throw new TemplateLimitException(TemplateLimitException.Budget,
                    $"A range may hold at most {TemplateLimits.MaxRange.ToString("N0", CultureInfo.InvariantCulture)} numbers; ({start}..{end}) holds {count.ToString("N0", CultureInfo.InvariantCulture)}.");
            }

            var numbers = new FluidValue[count];
            for (var i = 0; i < numbers.Length; i++)
            {
                numbers[i] = NumberValue.Create(start + i);
            }

            return new ArrayValue(numbers);
        }
    }

    /// <summary><c>{% capture %}</c> writing into a <see cref="BoundedWriter"/> held to the value cap (Fluid's own
    /// capture buffers without a limit, so a loop inside it could write without end).</summary>
    private sealed class BoundedCapture(string identifier, IReadOnlyList<Statement> statements) : TagStatement(statements)
    {
        public override async ValueTask<Completion> WriteToAsync(TextWriter writer, TextEncoder encoder, TemplateContext context)
        {
            var budget = RenderBudget.Of(context);
            using var captured = budget is null ? new StringWriter(CultureInfo.InvariantCulture) : (TextWriter)new BoundedWriter(
                budget, budget.Cap with { Max = budget.Cap.ValueCap, Utf8Bytes = false, Unit = "characters, the most a template may build" },
                $"The value captured into '{identifier}'");
            var completion = Completion.Normal;
            foreach (var statement in Statements)
            {
                completion = await statement.WriteToAsync(captured, encoder, context);
                if (completion != Completion.Normal)
                {
                    break;
                }
            }

            FluidValue value = StringValue.Create(captured.ToString()!, false);
            if (context.Captured is { } hook)
            {
                value = await hook(identifier, value, context);
            }

            context.SetValue(identifier, value);
            return completion;
        }
    }
}
