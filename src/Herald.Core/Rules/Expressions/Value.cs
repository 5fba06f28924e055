using System.Globalization;

namespace Herald.Core.Rules.Expressions;

internal enum ValueKind : byte
{
    /// <summary>The path does not exist (absent data field, unknown customer key).</summary>
    Missing,
    Null,
    Bool,
    Number,
    Text,
    /// <summary>Seconds in <see cref="Value.Number"/>.</summary>
    Duration,
    /// <summary>A JSON array; its element count in <see cref="Value.Number"/>.</summary>
    Array,
    Object,
}

/// <summary>A runtime value: a tagged struct, so evaluation allocates only when data hands it new text.</summary>
internal readonly struct Value(ValueKind kind, decimal number, string? text)
{
    public static readonly Value Missing = default;
    public static readonly Value Null = new(ValueKind.Null, 0, null);
    public static readonly Value True = new(ValueKind.Bool, 1, null);
    public static readonly Value False = new(ValueKind.Bool, 0, null);

    public ValueKind Kind { get; } = kind;
    public decimal Number { get; } = number;
    public string? Text { get; } = text;

    public bool IsTrue => Kind == ValueKind.Bool && Number != 0;
    public bool IsAbsent => Kind is ValueKind.Missing or ValueKind.Null;

    public static Value Of(bool value) => value ? True : False;
    public static Value Of(decimal value) => new(ValueKind.Number, value, null);
    public static Value Of(string? value) => value is null ? Missing : new(ValueKind.Text, 0, value);
    public static Value OfDuration(decimal seconds) => new(ValueKind.Duration, seconds, null);

    /// <summary>Numbers, and text that holds a number (banks often send amounts as "1500.00").</summary>
    public bool TryNumber(out decimal number)
    {
        if (Kind == ValueKind.Number)
        {
            number = Number;
            return true;
        }

        number = 0;
        return Kind == ValueKind.Text
            && decimal.TryParse(Text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out number);
    }

    /// <summary>Durations, numbers as seconds, and text like "30s".</summary>
    public bool TryDuration(out decimal seconds)
    {
        if (Kind is ValueKind.Duration or ValueKind.Number)
        {
            seconds = Number;
            return true;
        }

        seconds = 0;
        if (Kind == ValueKind.Text && Durations.TryParse(Text, out var span))
        {
            seconds = (decimal)span.TotalSeconds;
            return true;
        }

        return false;
    }

    public override string ToString() => Kind switch
    {
        ValueKind.Missing => "(missing)",
        ValueKind.Null => "null",
        ValueKind.Bool => IsTrue ? "true" : "false",
        ValueKind.Number => Number.ToString(CultureInfo.InvariantCulture),
        ValueKind.Text => Text!,
        ValueKind.Duration => Durations.Format(TimeSpan.FromSeconds((double)Number)),
        ValueKind.Array => $"(array of {Number})",
        _ => "(object)",
    };
}
