using System.Text;
using System.Text.Json;
using Herald.Ingest.Mapped;

namespace Herald.Ingest.Files;

/// <summary>A fixed-width field: 1-based <paramref name="Start"/> column and its <paramref name="Length"/> in characters.</summary>
public sealed record FixedField(string Name, int Start, int Length);

/// <summary>
/// How a source's batch files are laid out: CSV (delimiter, quotes, optional header) or fixed width (named
/// character ranges). Lines become records whose columns the source's <see cref="FieldMapping"/> selects as
/// "/" + column name. Built only by <see cref="Parse"/>, which validates it.
/// </summary>
public sealed class FileLayout
{
    public const int MaxColumns = 256;

    /// <summary>What <see cref="Utf8"/> decodes an invalid byte to: U+FFFF, a noncharacter that text never carries.</summary>
    public const char InvalidByteMark = '\uFFFF';

    /// <summary>
    /// UTF-8 that marks each invalid byte with <see cref="InvalidByteMark"/> instead of replacing it with U+FFFD (which
    /// a file may hold as a character): the line that holds a mark is rejected, located, instead of being stored with
    /// its text silently changed. (A lone surrogate would be the exact mark, but decoders refuse to produce one.) Its
    /// preamble (the BOM) is skipped when a file starts with it.
    /// </summary>
    public static readonly Encoding Utf8 = Encoding.GetEncoding("utf-8", EncoderFallback.ReplacementFallback, new MarkInvalidBytes());

    private FileLayout(bool csv, char delimiter, bool header, IReadOnlyList<string>? columns, IReadOnlyList<FixedField>? fields, string? idColumn, int skipLines, Encoding encoding)
    {
        IsCsv = csv;
        Delimiter = delimiter;
        Header = header;
        Columns = columns;
        Fields = fields;
        IdColumn = idColumn;
        SkipLines = skipLines;
        Encoding = encoding;
    }

    public bool IsCsv { get; }
    public char Delimiter { get; }
    /// <summary>CSV: the first (non-skipped) line names the columns; with <see cref="Columns"/> given it is skipped instead.</summary>
    public bool Header { get; }
    /// <summary>CSV column names when configured (else they come from the header line).</summary>
    public IReadOnlyList<string>? Columns { get; }
    public IReadOnlyList<FixedField>? Fields { get; }
    /// <summary>A column that identifies a line across uploads (the dedupe key); null hashes the line's content instead.</summary>
    public string? IdColumn { get; }
    /// <summary>Leading lines to ignore (e.g. a file header record), before any CSV header.</summary>
    public int SkipLines { get; }
    public Encoding Encoding { get; }

    /// <summary>The column names when known before reading (fixed width, or CSV with configured columns).</summary>
    public IReadOnlyList<string>? KnownColumns => IsCsv ? Columns : Fields!.Select(f => f.Name).ToArray();

    public static (FileLayout? Layout, IReadOnlyList<InputError> Errors) Parse(JsonElement json, string p, FieldMapping? mapping, string mappingPointer)
    {
        var errors = new List<InputError>();
        if (json.ValueKind != JsonValueKind.Object)
        {
            return (null, [new InputError(p, "Must be an object with 'format' (\"csv\" or \"fixed\").")]);
        }

        string? format = null, idColumn = null;
        char delimiter = ',';
        bool header = true;
        int skipLines = 0;
        List<string>? columns = null;
        List<FixedField>? fields = null;
        Encoding encoding = Utf8;
        foreach (var property in json.EnumerateObject())
        {
            var at = p + "/" + FieldMapping.Escape(property.Name);
            var v = property.Value;
            switch (property.Name)
            {
                case "format" when v.ValueKind == JsonValueKind.String && v.GetString() is "csv" or "fixed":
                    format = v.GetString();
                    break;
                case "format":
                    errors.Add(new(at, "Must be \"csv\" or \"fixed\"."));
                    break;
                case "delimiter" when v.ValueKind == JsonValueKind.String && v.GetString() is { Length: 1 } d && d[0] is not ('"' or '\r' or '\n'):
                    delimiter = v.GetString()![0];
                    break;
                case "delimiter":
                    errors.Add(new(at, "Must be one character, e.g. \",\", \";\" or \"\\t\"."));
                    break;
                case "header" when v.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    header = v.GetBoolean();
                    break;
                case "header":
                    errors.Add(new(at, "Must be true or false."));
                    break;
                case "skipLines" when v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var skip) && skip is >= 0 and <= 100:
                    skipLines = skip;
                    break;
                case "skipLines":
                    errors.Add(new(at, "Must be an integer from 0 to 100."));
                    break;
                case "encoding" when v.ValueKind == JsonValueKind.String && v.GetString() is "utf-8" or "latin1":
                    encoding = v.GetString() == "latin1" ? Encoding.Latin1 : Utf8;
                    break;
                case "encoding":
                    errors.Add(new(at, "Must be \"utf-8\" or \"latin1\"."));
                    break;
                case "idColumn" when v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 and <= 64 }:
                    idColumn = v.GetString();
                    break;
                case "idColumn":
                    errors.Add(new(at, "Must be a column name."));
                    break;
                case "columns":
                    columns = ParseColumns(v, at, errors);
                    break;
                case "fields":
                    fields = ParseFields(v, at, errors);
                    break;
                default:
                    errors.Add(new(at, "Unknown layout field; use format, delimiter, header, columns, fields, skipLines, encoding or idColumn."));
                    break;
            }
        }

        if (format is null && !errors.Any(e => e.Pointer == p + "/format"))
        {
            errors.Add(new(p + "/format", "Required: \"csv\" or \"fixed\"."));
        }

        if (format == "fixed" && fields is null && !errors.Any(e => e.Pointer.StartsWith(p + "/fields", StringComparison.Ordinal)))
        {
            errors.Add(new(p + "/fields", "Required for fixed width: [{\"name\", \"start\" (1-based), \"length\"}, ...]."));
        }

        if (format == "fixed" && columns is not null)
        {
            errors.Add(new(p + "/columns", "Fixed-width layouts name their columns in 'fields'."));
        }

        if (format == "csv" && fields is not null)
        {
            errors.Add(new(p + "/fields", "CSV layouts name their columns in 'columns' or a header line."));
        }

        if (format == "csv" && !header && columns is null)
        {
            errors.Add(new(p + "/columns", "Required when the file has no header line."));
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var layout = new FileLayout(format == "csv", delimiter, header, columns, fields, idColumn, skipLines, encoding);
        if (layout.KnownColumns is { } known)
        {
            if (idColumn is not null && !known.Contains(idColumn, StringComparer.Ordinal))
            {
                errors.Add(new(p + "/idColumn", $"'{idColumn}' is not one of the layout's columns."));
            }

            foreach (var (where, selector) in mapping?.Selectors() ?? [])
            {
                if (!known.Contains(ColumnRecord.ColumnOf(selector), StringComparer.Ordinal))
                {
                    errors.Add(new(mappingPointer + where, $"'{selector}' names no column of the layout; columns are /{string.Join(", /", known)}."));
                }
            }
        }

        return errors.Count > 0 ? (null, errors) : (layout, errors);
    }

    private static List<string>? ParseColumns(JsonElement v, string at, List<InputError> errors)
    {
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() is 0 or > MaxColumns)
        {
            errors.Add(new(at, $"Must be an array of 1 to {MaxColumns} column names."));
            return null;
        }

        var list = new List<string>();
        var i = 0;
        foreach (var c in v.EnumerateArray())
        {
            if (c.ValueKind != JsonValueKind.String || c.GetString() is not { Length: > 0 and <= 64 } name)
            {
                errors.Add(new(at + "/" + i, "Must be a name of 1 to 64 characters."));
            }
            else if (list.Contains(name, StringComparer.Ordinal))
            {
                errors.Add(new(at + "/" + i, $"'{name}' is named twice."));
            }
            else
            {
                list.Add(name);
            }

            i++;
        }

        return list;
    }

    private static List<FixedField>? ParseFields(JsonElement v, string at, List<InputError> errors)
    {
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() is 0 or > MaxColumns)
        {
            errors.Add(new(at, $"Must be an array of 1 to {MaxColumns} fields."));
            return null;
        }

        var list = new List<FixedField>();
        var i = 0;
        foreach (var f in v.EnumerateArray())
        {
            var fieldAt = at + "/" + i++;
            if (f.ValueKind != JsonValueKind.Object
                || !f.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString() is not { Length: > 0 and <= 64 } n)
            {
                errors.Add(new(fieldAt + "/name", "Required: a name of 1 to 64 characters."));
                continue;
            }

            if (!f.TryGetProperty("start", out var start) || start.ValueKind != JsonValueKind.Number || !start.TryGetInt32(out var s) || s is < 1 or > 65_536)
            {
                errors.Add(new(fieldAt + "/start", "Required: the 1-based first character, 1 to 65536."));
                continue;
            }

            if (!f.TryGetProperty("length", out var length) || length.ValueKind != JsonValueKind.Number || !length.TryGetInt32(out var l) || l is < 1 or > 65_536)
            {
                errors.Add(new(fieldAt + "/length", "Required: the width in characters, 1 to 65536."));
                continue;
            }

            if (list.Any(x => x.Name == n))
            {
                errors.Add(new(fieldAt + "/name", $"'{n}' is named twice."));
                continue;
            }

            list.Add(new FixedField(n, s, l));
        }

        return list;
    }
}

/// <summary>Decodes each invalid byte as <see cref="FileLayout.InvalidByteMark"/>: the text keeps a mark where the file
/// was not UTF-8.</summary>
internal sealed class MarkInvalidBytes : DecoderFallback
{
    public override int MaxCharCount => 4;

    public override DecoderFallbackBuffer CreateFallbackBuffer() => new Buffer();

    private sealed class Buffer : DecoderFallbackBuffer
    {
        private byte[] _bytes = [];
        private int _next;

        public override int Remaining => _bytes.Length - _next;

        public override bool Fallback(byte[] bytesUnknown, int index)
        {
            _bytes = bytesUnknown;
            _next = 0;
            return bytesUnknown.Length > 0;
        }

        public override char GetNextChar()
        {
            if (_next >= _bytes.Length)
            {
                return '\0';
            }

            _next++;
            return FileLayout.InvalidByteMark;
        }

        public override bool MovePrevious()
        {
            if (_next == 0)
            {
                return false;
            }

            _next--;
            return true;
        }

        public override void Reset()
        {
            _bytes = [];
            _next = 0;
        }
    }
}
