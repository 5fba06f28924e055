using System.Globalization;
using System.Text;

namespace Herald.Core.Rules;

/// <summary>
/// Durations as rule authors write them: a number and a unit (<c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>, <c>d</c>),
/// optionally compound (<c>1h30m</c>). Used in rule actions ("30s") and as expression literals (<c>5m</c>).
/// </summary>
public static class Durations
{
    /// <summary>The longest duration accepted anywhere in a rule set; longer values are typos, not intent.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromDays(365);

    public static bool TryParse(ReadOnlySpan<char> text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (text.IsEmpty)
        {
            return false;
        }

        decimal totalMs = 0;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            if (i == start || !decimal.TryParse(text[start..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
            {
                return false;
            }

            var unitStart = i;
            while (i < text.Length && char.IsAsciiLetterLower(text[i]))
            {
                i++;
            }

            decimal unitMs = text[unitStart..i] switch
            {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => -1,
            };
            if (unitMs < 0)
            {
                return false;
            }

            totalMs += amount * unitMs;
            if (totalMs > (decimal)Max.TotalMilliseconds)
            {
                return false;
            }
        }

        value = TimeSpan.FromMilliseconds((double)totalMs);
        return true;
    }

    /// <summary>The shortest text that <see cref="TryParse"/> reads back as <paramref name="value"/>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0s";
        }

        var sb = new StringBuilder();
        Append(sb, value.Days, "d");
        Append(sb, value.Hours, "h");
        Append(sb, value.Minutes, "m");
        Append(sb, value.Seconds, "s");
        Append(sb, value.Milliseconds, "ms");
        return sb.ToString();

        static void Append(StringBuilder sb, int amount, string unit)
        {
            if (amount != 0)
            {
                sb.Append(amount.ToString(CultureInfo.InvariantCulture)).Append(unit);
            }
        }
    }
}
