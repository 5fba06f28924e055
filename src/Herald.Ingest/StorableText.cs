using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Herald.Ingest;

/// <summary>
/// What both storage backends can hold, checked at the edge so that no bank's input reaches a database that would
/// refuse it. PostgreSQL's <c>text</c> refuses NUL (U+0000) and its <c>jsonb</c> refuses the <c>\u0000</c> escape,
/// lone surrogate escapes and numbers beyond its <c>numeric</c> (an exponent past ±1000); SQLite would store them all.
/// One refused value in a group commit used to fail every other tenant's notification in it (issue #13), and the
/// backends must answer alike, so the rule is Herald's, not the database's.
/// </summary>
public static class StorableText
{
    /// <summary>The longest JSON number stored (PostgreSQL's numeric holds far more; no bank sends more).</summary>
    public const int MaxNumberLength = 1000;

    /// <summary>PostgreSQL refuses a numeric exponent beyond ±1000 (NUMERIC_MAX_PRECISION).</summary>
    public const int MaxExponent = 1000;

    public const string TextDetail = "Contains a character that cannot be stored: NUL (U+0000) or a lone UTF-16 surrogate (invalid Unicode).";
    public const string NameDetail = "A property name contains a character that cannot be stored: NUL (U+0000) or a lone UTF-16 surrogate.";
    public const string NumberDetail = "A number that cannot be stored: at most 1000 characters and an exponent within ±1000.";

    private static readonly SearchValues<char> Suspicious = SearchValues.Create("\0" + string.Concat(Enumerable.Range(0xD800, 0x800).Select(c => (char)c)));

    /// <summary>True when <paramref name="text"/> has no NUL and every surrogate is half of a pair.</summary>
    public static bool IsStorable(ReadOnlySpan<char> text)
    {
        var i = text.IndexOfAny(Suspicious);
        while (i >= 0)
        {
            var c = text[i];
            if (c == '\0' || char.IsLowSurrogate(c) || i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
            {
                return false;
            }

            i += 2; // a well-formed pair
            var next = text[i..].IndexOfAny(Suspicious);
            i = next < 0 ? -1 : i + next;
        }

        return true;
    }

    /// <summary>Null, or the error for a text value at <paramref name="pointer"/>.</summary>
    public static InputError? Check(string? text, string pointer) =>
        text is null || IsStorable(text) ? null : new InputError(pointer, TextDetail);

    /// <summary>
    /// The first value of a UTF-8 JSON document that cannot be stored, located by its JSON Pointer (prefixed by
    /// <paramref name="prefix"/>); null when every value can be, or when the document is malformed (its parser says
    /// so, with its own location). One pass of the reader; the document is walked again only to locate a refusal.
    /// </summary>
    public static InputError? Find(ReadOnlySpan<byte> utf8Json, string prefix = "")
    {
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = 256 });
        var found = false;
        try
        {
            while (!found && reader.Read())
            {
                found = reader.TokenType switch
                {
                    JsonTokenType.String or JsonTokenType.PropertyName => reader.ValueIsEscaped && !IsStorableEscaped(ref reader),
                    JsonTokenType.Number => !IsStorableNumber(reader.ValueSpan),
                    _ => false,
                };
            }
        }
        catch (JsonException)
        {
            return null;
        }

        if (!found)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(utf8Json.ToArray(), new JsonDocumentOptions { MaxDepth = 256 });
            return Find(document.RootElement, prefix) ?? new InputError(prefix == "" ? "/" : prefix, TextDetail);
        }
        catch (JsonException)
        {
            return new InputError(prefix == "" ? "/" : prefix, TextDetail);
        }
    }

    /// <summary>The first value of <paramref name="element"/> that cannot be stored, located under <paramref name="pointer"/>.</summary>
    public static InputError? Find(JsonElement element, string pointer)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return ReadString(element) is { } s && IsStorable(s) ? null : new InputError(pointer == "" ? "/" : pointer, TextDetail);
            case JsonValueKind.Number:
                return IsStorableNumber(System.Text.Encoding.UTF8.GetBytes(element.GetRawText()))
                    ? null : new InputError(pointer == "" ? "/" : pointer, NumberDetail);
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (Find(item, pointer + "/" + i.ToString(CultureInfo.InvariantCulture)) is { } error)
                    {
                        return error;
                    }

                    i++;
                }

                return null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return new InputError(pointer == "" ? "/" : pointer, NameDetail);
                    }

                    if (!IsStorable(name))
                    {
                        return new InputError(pointer == "" ? "/" : pointer, NameDetail);
                    }

                    if (Find(property.Value, pointer + "/" + Escape(name)) is { } error)
                    {
                        return error;
                    }
                }

                return null;
            default:
                return null;
        }
    }

    /// <summary>Whether a JSON number token (its raw text) fits PostgreSQL's jsonb numeric.</summary>
    public static bool IsStorableNumber(ReadOnlySpan<byte> raw)
    {
        if (raw.Length > MaxNumberLength)
        {
            return false;
        }

        var e = raw.IndexOfAny((byte)'e', (byte)'E');
        if (e < 0)
        {
            return true;
        }

        var exponent = raw[(e + 1)..];
        if (exponent.Length > 0 && exponent[0] is (byte)'+' or (byte)'-')
        {
            exponent = exponent[1..];
        }

        exponent = exponent.TrimStart((byte)'0');
        // The digits are checked by the JSON reader; more than 4 of them is past 1000 already.
        return exponent.Length < 4 || (exponent.Length == 4 && int.Parse(exponent, CultureInfo.InvariantCulture) <= MaxExponent);
    }

    private static bool IsStorableEscaped(ref Utf8JsonReader reader)
    {
        try
        {
            return IsStorable(reader.GetString());
        }
        catch (InvalidOperationException)
        {
            // The reader refuses to unescape a lone surrogate.
            return false;
        }
    }

    private static string? ReadString(JsonElement element)
    {
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
}
