using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Herald.Ingest.Mapped;

namespace Herald.Ingest.Files;

/// <summary>A file refused as a whole before any line was taken (e.g. its header lacks a mapped column).</summary>
public sealed class FileRefusedException(InputError error) : Exception(error.Detail)
{
    public InputError Error { get; } = error;
}

/// <summary>
/// The <c>file</c> adapter: streams a CSV or fixed-width file record by record, never holding more than one record
/// (bounded by <c>maxLineLength</c>) in memory, and yields each data record as a notification or its located
/// errors. A CSV record is a line, or several when a quoted field holds line breaks (RFC 4180). Records are located by
/// the physical line where they start (1-based, header and skipped lines included); blank lines are ignored.
/// </summary>
public static class FileAdapter
{
    public static async IAsyncEnumerable<AdaptedItem> ReadAsync(
        Stream stream, FileLayout layout, FieldMapping mapping, Guid tenantId, Guid sourceId, int maxLineLength,
        [EnumeratorCancellation] CancellationToken ct)
    {
        var reader = new BoundedLineReader(stream, layout.Encoding, maxLineLength, layout.Delimiter);
        var prefix = "src:" + sourceId.ToString("N") + ":";
        var lineNumber = 0; // the physical line where the current record starts
        var consumed = 0;   // physical lines read so far
        Dictionary<string, int>? columns = layout.KnownColumns is { } known ? Index(known) : null;
        var headerPending = layout.IsCsv && layout.Header;
        var fields = new List<string>();
        // Skipped lines are plain lines (a preamble may hold a stray quote); after them, CSV records follow RFC 4180.
        reader.QuoteAware = layout.IsCsv && layout.SkipLines == 0;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            lineNumber = consumed + 1;
            consumed += line.Lines;
            var where = "line " + lineNumber;
            if (lineNumber <= layout.SkipLines)
            {
                reader.QuoteAware = layout.IsCsv && consumed >= layout.SkipLines;
                continue;
            }

            if (line.TooLong)
            {
                var what = line.Lines > 1 ? $"The record (lines {lineNumber} to {consumed}: a quoted field spans them)" : "The line";
                if (headerPending)
                {
                    throw new FileRefusedException(new InputError(where, $"{what} is the header and longer than {maxLineLength} characters."));
                }

                yield return new AdaptedItem(lineNumber, where, null, [new InputError(where,
                    line.Lines > 1 ? $"{what} is longer than {maxLineLength} characters; skipped." : $"Longer than {maxLineLength} characters; skipped.")]);
                continue;
            }

            var text = line.Text!;
            if (text.Length == 0 || (text.AsSpan().Trim().Length == 0 && layout.IsCsv))
            {
                continue;
            }

            if (headerPending)
            {
                headerPending = false;
                if (columns is null)
                {
                    columns = ReadHeader(text, layout, where, mapping);
                }

                continue;
            }

            // Checked on the whole record, before it is split: a field holding such a character could not be stored,
            // and invalid UTF-8 (marked by the decoder: FileLayout.Utf8) must not be stored as U+FFFD either.
            if (Unstorable(text, where) is { } unstorable)
            {
                yield return new AdaptedItem(lineNumber, where, null, [unstorable]);
                continue;
            }

            InputError? splitError = null;
            string[] values;
            if (layout.IsCsv)
            {
                splitError = Csv.Split(text, layout.Delimiter, fields, FileLayout.MaxColumns, where);
                values = [.. fields];
            }
            else
            {
                values = [.. layout.Fields!.Select(f => Slice(text, f))];
            }

            if (splitError is not null)
            {
                yield return new AdaptedItem(lineNumber, where, null, [splitError]);
                continue;
            }

            var record = new ColumnRecord(columns!, values, lineNumber);
            string? key;
            if (layout.IdColumn is { } idColumn)
            {
                if (!record.TryGet("/" + FieldMapping.Escape(idColumn), out var id) || id.IsEmpty)
                {
                    yield return new AdaptedItem(lineNumber, where, null, [new InputError(record.Describe(where, "/" + idColumn), "The id column is empty; it identifies the line across uploads.")]);
                    continue;
                }

                key = "id:" + id.Text;
            }
            else
            {
                key = "h:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
            }

            var (notification, errors) = mapping.Map(record, tenantId, sourceId, where, prefix, key);
            yield return new AdaptedItem(lineNumber, where, notification, errors);
        }

        if (headerPending)
        {
            throw new FileRefusedException(new InputError("line 1", "The file is empty; a header line is expected."));
        }
    }

    private static Dictionary<string, int> ReadHeader(string text, FileLayout layout, string where, FieldMapping mapping)
    {
        var names = new List<string>();
        if (Csv.Split(text, layout.Delimiter, names, FileLayout.MaxColumns, where) is { } error)
        {
            throw new FileRefusedException(error);
        }

        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            index.TryAdd(names[i].Trim(), i);
        }

        foreach (var (_, selector) in mapping.Selectors())
        {
            if (!index.ContainsKey(ColumnRecord.ColumnOf(selector)))
            {
                throw new FileRefusedException(new InputError(where, $"The header has no column '{ColumnRecord.ColumnOf(selector)}' that the source's mapping reads."));
            }
        }

        if (layout.IdColumn is { } id && !index.ContainsKey(id))
        {
            throw new FileRefusedException(new InputError(where, $"The header has no id column '{id}'."));
        }

        return index;
    }

    private static InputError? Unstorable(string text, string where)
    {
        var bad = text.AsSpan().IndexOfAny('\0', FileLayout.InvalidByteMark);
        if (bad < 0)
        {
            return StorableText.IsStorable(text) ? null : new InputError(where, StorableText.TextDetail + " The line is skipped.");
        }

        var at = $"{where}, character {bad + 1}";
        return text[bad] == '\0'
            ? new InputError(at, "Holds a NUL byte, which cannot be stored; the line is skipped.")
            : new InputError(at, "Is not valid UTF-8 (a byte that starts no character, or U+FFFF); the line is skipped. Save the file as UTF-8, or set the layout's encoding to \"latin1\".");
    }

    private static Dictionary<string, int> Index(IReadOnlyList<string> names)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            index[names[i]] = i;
        }

        return index;
    }

    private static string Slice(string line, FixedField field)
    {
        var start = field.Start - 1;
        if (start >= line.Length)
        {
            return "";
        }

        var length = Math.Min(field.Length, line.Length - start);
        return line.AsSpan(start, length).Trim().ToString();
    }
}

/// <summary>One file line's values by column name; selectors are "/" + the column name.</summary>
public sealed class ColumnRecord(IReadOnlyDictionary<string, int> columns, string[] values, int lineNumber) : IMappingRecord
{
    public int LineNumber => lineNumber;

    public bool TryGet(string selector, out MappedValue value)
    {
        if (columns.TryGetValue(ColumnOf(selector), out var i) && i < values.Length)
        {
            value = new MappedValue(values[i], null);
            return true;
        }

        value = default;
        return false;
    }

    public string Describe(string where, string selector) => $"{where}, field '{ColumnOf(selector)}'";

    public static string ColumnOf(string selector) =>
        selector[1..].Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
}

/// <summary>RFC 4180 fields of one record (a quoted field may hold line breaks; <see cref="BoundedLineReader"/> joins the lines).</summary>
public static class Csv
{
    /// <summary>Splits <paramref name="line"/> into <paramref name="fields"/>; returns an error instead when malformed.</summary>
    public static InputError? Split(string line, char delimiter, List<string> fields, int maxFields, string where)
    {
        fields.Clear();
        var i = 0;
        var builder = new StringBuilder();
        while (true)
        {
            if (fields.Count >= maxFields)
            {
                return new InputError(where, $"More than {maxFields} fields.");
            }

            if (i < line.Length && line[i] == '"')
            {
                builder.Clear();
                i++;
                while (true)
                {
                    if (i >= line.Length)
                    {
                        return new InputError($"{where}, column {fields.Count + 1}", "A quoted field is not closed before the end of the file.");
                    }

                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            builder.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    builder.Append(line[i++]);
                }

                fields.Add(builder.ToString());
                if (i < line.Length && line[i] != delimiter)
                {
                    return new InputError($"{where}, column {fields.Count}", "Characters after a closing quote.");
                }
            }
            else
            {
                var end = line.IndexOf(delimiter, i);
                var stop = end < 0 ? line.Length : end;
                fields.Add(line[i..stop]);
                i = stop;
            }

            if (i >= line.Length)
            {
                return null;
            }

            i++; // the delimiter
            if (i == line.Length)
            {
                fields.Add("");
                return null;
            }
        }
    }
}

/// <summary>
/// Reads records with a bound on their length: a longer record is reported (and skipped) instead of buffered. A record
/// is one line, or, when <see cref="QuoteAware"/> (CSV, RFC 4180), several physical lines joined by a quoted field that
/// holds line breaks. Quote state is followed even through a record too long to keep, so the next record starts
/// where it should.
/// </summary>
public sealed class BoundedLineReader(Stream stream, Encoding encoding, int maxLineLength, char delimiter = ',')
{
    private enum State
    {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }

    // UTF-8 is not switched by a byte order mark (its BOM is skipped as the preamble): detection would swap in a decoder
    // that replaces invalid bytes with U+FFFD instead of marking them (FileLayout.Utf8).
    private readonly StreamReader _reader = new(stream, encoding, detectEncodingFromByteOrderMarks: encoding != FileLayout.Utf8, bufferSize: 64 * 1024, leaveOpen: true);
    private readonly char[] _buffer = new char[32 * 1024];
    private readonly StringBuilder _line = new();
    private int _position;
    private int _length;
    private bool _eof;

    /// <param name="Text">The record without its final terminator (\n or \r\n); null when too long.</param>
    /// <param name="Lines">Physical lines the record took (more than 1 only for a quoted field with line breaks).</param>
    /// <param name="Unclosed">The file ended inside a quoted field.</param>
    public readonly record struct Line(string? Text, bool TooLong, int Lines = 1, bool Unclosed = false);

    /// <summary>Whether a quoted field (a '"' at the start of a field) may hold line breaks (CSV); off: a line is a record.</summary>
    public bool QuoteAware { get; set; }

    /// <summary>The next record, or null at the end.</summary>
    public async ValueTask<Line?> ReadLineAsync(CancellationToken ct)
    {
        _line.Clear();
        var tooLong = false;
        var any = false;
        var lines = 1;
        var state = State.FieldStart;
        var last = '\0';
        while (true)
        {
            if (_position == _length)
            {
                if (_eof)
                {
                    // A file ending inside a quoted field: its last newline ends the file, not another line.
                    var unclosed = state == State.Quoted;
                    return any ? Finish(tooLong, unclosed && last == '\n' ? lines - 1 : lines, unclosed) : null;
                }

                _length = await _reader.ReadAsync(_buffer.AsMemory(), ct);
                _position = 0;
                if (_length == 0)
                {
                    _eof = true;
                    continue;
                }
            }

            any = true;
            var span = _buffer.AsSpan(_position, _length - _position);
            var end = QuoteAware ? Scan(span, ref state, ref lines) : span.IndexOf('\n');
            var take = end < 0 ? span : span[..end];
            if (!tooLong)
            {
                if (_line.Length + take.Length > maxLineLength + 1)
                {
                    tooLong = true;
                    _line.Clear();
                }
                else
                {
                    _line.Append(take);
                }
            }

            last = span[^1];
            _position += end < 0 ? span.Length : end + 1;
            if (end >= 0)
            {
                return Finish(tooLong, lines, false);
            }
        }
    }

    // Follows RFC 4180 quoting through the span: the index of the newline that ends the record, or -1. Newlines inside
    // a quoted field are part of the record and counted as physical lines.
    private int Scan(ReadOnlySpan<char> span, ref State state, ref int lines)
    {
        for (var i = 0; i < span.Length; i++)
        {
            var c = span[i];
            switch (state)
            {
                case State.Quoted:
                    if (c == '"')
                    {
                        state = State.QuoteInQuoted;
                    }
                    else if (c == '\n')
                    {
                        lines++;
                    }

                    continue;
                case State.QuoteInQuoted when c == '"':
                    state = State.Quoted; // "" inside a quoted field
                    continue;
                case State.Unquoted when c != '\n' && c != delimiter:
                    // The common case: run to the next delimiter or newline at once.
                    var next = span[i..].IndexOfAny('\n', delimiter);
                    if (next < 0)
                    {
                        return -1;
                    }

                    i += next - 1;
                    continue;
            }

            if (c == '\n')
            {
                return i;
            }

            state = c == delimiter ? State.FieldStart : c == '"' && state == State.FieldStart ? State.Quoted : State.Unquoted;
        }

        return -1;
    }

    private Line Finish(bool tooLong, int lines, bool unclosed)
    {
        if (!tooLong && _line.Length > 0 && _line[^1] == '\r')
        {
            _line.Length--;
        }

        return tooLong || _line.Length > maxLineLength ? new Line(null, true, lines, unclosed) : new Line(_line.ToString(), false, lines, unclosed);
    }
}
