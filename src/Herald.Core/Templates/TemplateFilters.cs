using System.Globalization;
using Fluid;
using Fluid.Values;

namespace Herald.Core.Templates;

/// <summary>Herald's Liquid filters: masking and formatting in the customer's language and time zone.</summary>
public static class TemplateFilters
{
    internal const string LanguageKey = "herald.language";

    internal static void Register(FilterCollection filters)
    {
        filters.AddFilter("mask_card", (input, _, _) => Value(MaskCard(input.ToStringValue())));
        filters.AddFilter("mask_account", (input, _, _) => Value(MaskAccount(input.ToStringValue())));
        filters.AddFilter("money", (input, args, context) =>
        {
            if (input.IsNil() || !TryNumber(input, out var amount))
            {
                return Value("");
            }

            var currency = args.Count > 0 && !args.At(0).IsNil() ? args.At(0).ToStringValue() : null;
            return Value(LocalFormats.Money(amount, currency, Language(context)));
        });
        filters.AddFilter("local_date", (input, args, context) =>
        {
            if (!TryTime(input, out var time))
            {
                return Value(input.IsNil() ? "" : input.ToStringValue());
            }

            var local = TimeZoneInfo.ConvertTime(time, context.TimeZone ?? TimeZoneInfo.Utc);
            var format = args.Count > 0 && !args.At(0).IsNil() ? args.At(0).ToStringValue() : null;
            return Value(LocalFormats.Date(local, format, Language(context)));
        });
    }

    /// <summary>A card number as "**** 1234": only the last four digits stay.</summary>
    public static string MaskCard(string? number)
    {
        var digits = new string((number ?? "").Where(char.IsAsciiDigit).ToArray());
        return digits.Length <= 4 ? "****" : "**** " + digits[^4..];
    }

    /// <summary>An account number or IBAN as "****5678": only the last four letters or digits stay.</summary>
    public static string MaskAccount(string? account)
    {
        var chars = new string((account ?? "").Where(char.IsAsciiLetterOrDigit).ToArray());
        return chars.Length <= 4 ? "****" : "****" + chars[^4..];
    }

    private static string Language(TemplateContext context) =>
        context.AmbientValues.TryGetValue(LanguageKey, out var value) && value is string language ? language : "";

    private static bool TryNumber(FluidValue input, out decimal amount)
    {
        if (input is NumberValue)
        {
            amount = input.ToNumberValue();
            return true;
        }

        return decimal.TryParse(input.ToStringValue(), NumberStyles.Number, CultureInfo.InvariantCulture, out amount);
    }

    private static bool TryTime(FluidValue input, out DateTimeOffset time)
    {
        if (input is NumberValue)
        {
            time = DateTimeOffset.FromUnixTimeSeconds((long)input.ToNumberValue());
            return true;
        }

        return DateTimeOffset.TryParse(input.ToStringValue(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time);
    }

    private static ValueTask<FluidValue> Value(string text) => new(StringValue.Create(text));
}

/// <summary>
/// Number and date formats per language. Herald runs with invariant globalization (no ICU data in the image), so
/// the common European and American conventions are kept here; other languages get the international form
/// (1,234.56 EUR, 2026-11-24 18:30).
/// </summary>
public static class LocalFormats
{
    private sealed record Format(string Group, string Decimal, bool SymbolFirst, bool Space, string DateFormat);

    private static readonly Format International = new(",", ".", false, true, "yyyy-MM-dd HH:mm");

    private static readonly Dictionary<string, Format> Formats = new(StringComparer.OrdinalIgnoreCase)
    {
        ["en"] = new(",", ".", true, false, "yyyy-MM-dd HH:mm"),
        ["en-US"] = new(",", ".", true, false, "MM/dd/yyyy h:mm tt"),
        ["en-GB"] = new(",", ".", true, false, "dd/MM/yyyy HH:mm"),
        ["de"] = new(".", ",", false, true, "dd.MM.yyyy HH:mm"),
        ["fr"] = new("\u202F", ",", false, true, "dd/MM/yyyy HH:mm"),
        ["es"] = new(".", ",", false, true, "dd/MM/yyyy HH:mm"),
        ["it"] = new(".", ",", false, true, "dd/MM/yyyy HH:mm"),
        ["pt"] = new("\u00A0", ",", false, true, "dd/MM/yyyy HH:mm"),
        ["pt-BR"] = new(".", ",", true, true, "dd/MM/yyyy HH:mm"),
        ["nl"] = new(".", ",", true, true, "dd-MM-yyyy HH:mm"),
        ["pl"] = new("\u00A0", ",", false, true, "dd.MM.yyyy HH:mm"),
        ["ru"] = new("\u00A0", ",", false, true, "dd.MM.yyyy HH:mm"),
        ["tr"] = new(".", ",", true, false, "dd.MM.yyyy HH:mm"),
    };

    private static readonly Dictionary<string, string> Symbols = new(StringComparer.OrdinalIgnoreCase)
    {
        ["EUR"] = "€", ["USD"] = "$", ["GBP"] = "£", ["BRL"] = "R$", ["JPY"] = "¥", ["PLN"] = "zł", ["TRY"] = "₺", ["CHF"] = "CHF",
    };

    /// <summary>An amount with two decimals, grouped and with the currency placed as <paramref name="language"/> does,
    /// e.g. 1234.5 EUR: "€1,234.50" (en), "1.234,50 €" (de), "R$ 1.234,50" (pt-BR).</summary>
    public static string Money(decimal amount, string? currency, string? language)
    {
        var format = Find(language);
        var number = Number(Math.Abs(amount), format);
        var sign = amount < 0 ? "-" : "";
        if (string.IsNullOrEmpty(currency))
        {
            return sign + number;
        }

        var symbol = format == International ? currency.ToUpperInvariant() : Symbols.GetValueOrDefault(currency, currency.ToUpperInvariant());
        var space = format.Space || symbol.Length > 1 && char.IsAsciiLetter(symbol[^1]) ? " " : "";
        return format.SymbolFirst ? sign + symbol + space + number : sign + number + " " + symbol;
    }

    /// <summary>A local time in <paramref name="format"/> (a .NET date format), else the language's usual form.</summary>
    public static string Date(DateTimeOffset local, string? format, string? language) =>
        local.ToString(string.IsNullOrEmpty(format) ? Find(language).DateFormat : format, CultureInfo.InvariantCulture);

    private static string Number(decimal amount, Format format)
    {
        var text = amount.ToString("N2", CultureInfo.InvariantCulture);
        return text.Replace(",", "\u0001", StringComparison.Ordinal).Replace(".", format.Decimal, StringComparison.Ordinal)
            .Replace("\u0001", format.Group, StringComparison.Ordinal);
    }

    private static Format Find(string? language)
    {
        if (string.IsNullOrEmpty(language))
        {
            return International;
        }

        return Formats.GetValueOrDefault(language) ?? Formats.GetValueOrDefault(TemplateSelection.BaseLanguage(language)) ?? International;
    }
}
