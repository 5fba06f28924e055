using System.Security.Cryptography;
using System.Text.Json;
using Herald.Core.Notifications;

namespace Herald.Ingest.Mapped;

/// <summary>One item of an adapted document: a notification, or why it was rejected.</summary>
/// <param name="Location">Where the item is in the input (a JSON Pointer, an XPath, or "line N").</param>
public sealed record AdaptedItem(int Index, string Location, NewNotification? Notification, IReadOnlyList<InputError> Errors);

/// <summary>A whole document turned into items, or refused as a whole (nothing of it may be stored).</summary>
/// <param name="IsBatch">True when the document holds several items, each reported on its own.</param>
public sealed record AdaptedDocument(IReadOnlyList<AdaptedItem> Items, IReadOnlyList<InputError> DocumentErrors, bool IsBatch)
{
    public static AdaptedDocument Refused(params InputError[] errors) => new([], errors, false);
}

/// <summary>The <c>mapped</c> adapter: a bank system's own JSON, mapped field by field. Pure; thread-safe.</summary>
public static class MappedJsonAdapter
{
    public const int MaxDepth = 64;
    public const int MaxItems = 10_000;

    public static AdaptedDocument Adapt(ReadOnlyMemory<byte> body, FieldMapping mapping, Guid tenantId, Guid sourceId)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
        {
            return AdaptedDocument.Refused(new InputError("/", "The body is not valid UTF-8."));
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            return AdaptedDocument.Refused(new InputError("/", $"Malformed JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine}); at most {MaxDepth} levels of nesting."));
        }

        using (document)
        {
            var prefix = "src:" + sourceId.ToString("N") + ":";
            if (mapping.Items is null)
            {
                // A value storage cannot hold refuses the document; inside a batch, only its item (below).
                if (StorableText.Find(document.RootElement, "") is { } unstorable)
                {
                    return new AdaptedDocument([new AdaptedItem(0, "/", null, [unstorable])], [], false);
                }

                var (n, errors) = mapping.Map(new JsonMappingRecord(document.RootElement), tenantId, sourceId, "", prefix, Hash(document.RootElement));
                return new AdaptedDocument([new AdaptedItem(0, "/", n, errors)], [], false);
            }

            // Found by the storage fuzz test: looking a name up unescapes the names beside it, and a lone surrogate
            // escape in one of them threw (a 500). Inside the items, each item is checked on its own below.
            JsonElement array;
            try
            {
                if (!JsonPointer.TryResolve(document.RootElement, mapping.Items, out array))
                {
                    array = default;
                }
            }
            catch (InvalidOperationException)
            {
                return AdaptedDocument.Refused(new InputError("/", StorableText.NameDetail));
            }

            if (array.ValueKind != JsonValueKind.Array)
            {
                return AdaptedDocument.Refused(new InputError(mapping.Items, "Required: an array of items (the mapping's 'items')."));
            }

            var count = array.GetArrayLength();
            if (count == 0 || count > MaxItems)
            {
                return AdaptedDocument.Refused(new InputError(mapping.Items, $"Must hold 1 to {MaxItems} items."));
            }

            var items = new List<AdaptedItem>(count);
            var i = 0;
            foreach (var element in array.EnumerateArray())
            {
                var where = mapping.Items + "/" + i;
                (NewNotification? n, IReadOnlyList<InputError> errors) = element.ValueKind != JsonValueKind.Object ? (null, [new InputError(where, "Must be an object.")])
                    : StorableText.Find(element, where) is { } unstorable ? (null, [unstorable])
                    : mapping.Map(new JsonMappingRecord(element), tenantId, sourceId, where, prefix, Hash(element));
                items.Add(new AdaptedItem(i, where, n, errors));
                i++;
            }

            return new AdaptedDocument(items, [], true);
        }
    }

    /// <summary>Content hash of an item: the dedupe key when the mapping names no external id, so a re-sent item is recognised.</summary>
    private static string Hash(JsonElement element) =>
        "h:" + Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(element.GetRawText())))[..32];
}
