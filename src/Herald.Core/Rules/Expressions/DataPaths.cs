using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Herald.Core.Rules.Expressions;

/// <summary>
/// The set of <c>data.…</c> paths a rule set reads, as a trie with one slot per path. A notification's data is
/// scanned once per evaluation with <see cref="Utf8JsonReader"/>, descending only into referenced objects and
/// materialising only referenced values, so unrelated data costs a skip, not an allocation.
/// </summary>
internal sealed class DataPaths
{
    private readonly PathNode _root = new("", []);
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);

    public int Count => _slots.Count;

    /// <summary>Patterns of this rule set that need the backtracking engine (each bounded by a match timeout); the
    /// binder caps their number so that the timeouts cannot add up to a long stall per notification.</summary>
    public int BacktrackingPatterns { get; set; }

    /// <summary>The slot of <paramref name="segments"/>, registering it on first use. Only while building.</summary>
    public int SlotFor(string[] segments)
    {
        var key = string.Join('\u0001', segments);
        if (_slots.TryGetValue(key, out var slot))
        {
            return slot;
        }

        slot = _slots.Count;
        _slots.Add(key, slot);
        var node = _root;
        foreach (var segment in segments)
        {
            node = node.Child(segment);
        }

        node.Slot = slot;
        return slot;
    }

    /// <summary>Fills <paramref name="slots"/> from <paramref name="json"/>; false when it is not a JSON object.</summary>
    public bool Extract(string json, Value[] slots)
    {
        var max = Encoding.UTF8.GetMaxByteCount(json.Length);
        byte[]? rented = null;
        var buffer = max <= 1024 ? stackalloc byte[1024] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            var length = Encoding.UTF8.GetBytes(json, buffer);
            var reader = new Utf8JsonReader(buffer[..length]);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            ScanObject(ref reader, _root, slots);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Reader is on a StartObject; leaves it on the matching EndObject.</summary>
    private static void ScanObject(ref Utf8JsonReader reader, PathNode node, Value[] slots)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var child = node.Find(ref reader);
            reader.Read();
            if (child is null)
            {
                reader.Skip();
                continue;
            }

            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    if (child.Slot >= 0)
                    {
                        slots[child.Slot] = new Value(ValueKind.Object, 0, null);
                    }

                    if (child.Children.Length > 0)
                    {
                        ScanObject(ref reader, child, slots);
                    }
                    else
                    {
                        reader.Skip();
                    }

                    break;
                case JsonTokenType.StartArray:
                    var count = 0;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        count++;
                        reader.Skip();
                    }

                    if (child.Slot >= 0)
                    {
                        slots[child.Slot] = new Value(ValueKind.Array, count, null);
                    }

                    break;
                default:
                    if (child.Slot >= 0)
                    {
                        slots[child.Slot] = ReadScalar(ref reader);
                    }

                    break;
            }
        }
    }

    private static Value ReadScalar(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => Value.Of(reader.GetString()),
        JsonTokenType.Number => reader.TryGetDecimal(out var number) ? Value.Of(number) : Value.Missing,
        JsonTokenType.True => Value.True,
        JsonTokenType.False => Value.False,
        _ => Value.Null,
    };

    private sealed class PathNode(string name, PathNode[] children)
    {
        private readonly Dictionary<string, PathNode> _byName = new(StringComparer.Ordinal);

        public string Name { get; } = name;
        public PathNode[] Children { get; private set; } = children;
        public int Slot { get; set; } = -1;

        public PathNode Child(string segment)
        {
            if (_byName.TryGetValue(segment, out var existing))
            {
                return existing;
            }

            var created = new PathNode(segment, []);
            Children = [.. Children, created];
            _byName.Add(segment, created);
            return created;
        }

        /// <summary>The child named by the reader's current property name, unescaped, without allocating.</summary>
        public PathNode? Find(ref Utf8JsonReader reader)
        {
            if (Children.Length == 0 || reader.ValueSpan.Length > 256)
            {
                return null;
            }

            Span<char> name = stackalloc char[256];
            var length = reader.CopyString(name);
            return _byName.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name[..length], out var child) ? child : null;
        }
    }
}
