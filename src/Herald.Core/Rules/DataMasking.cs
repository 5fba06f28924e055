using System.Text.Json;
using System.Text.Json.Nodes;

namespace Herald.Core.Rules;

/// <summary>
/// The <c>mask</c> action: hides card and account numbers in a notification's data before it is stored, keeping the
/// last 4 letters or digits (<c>4111 1111 1111 1234</c> → <c>**** **** **** 1234</c>). Separators stay, so the shape
/// stays readable; a value of 4 or fewer letters and digits is hidden completely.
/// </summary>
public static class DataMasking
{
    public const int KeepLast = 4;
    private const int MaxSegments = 16;

    /// <summary>Whether <paramref name="path"/> names a data field: <c>data</c> and 1 to 16 segments of
    /// letters, digits, '_' or '-'.</summary>
    public static bool IsPath(string? path)
    {
        if (path is null || !path.StartsWith("data.", StringComparison.Ordinal))
        {
            return false;
        }

        var segments = path.Split('.');
        return segments.Length - 1 <= MaxSegments
            && segments.Skip(1).All(s => s.Length is > 0 and <= 100 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'));
    }

    /// <summary>The data with every named text or number field masked; data that is not a JSON object, and paths
    /// that name nothing or an object or array, are left as they are.</summary>
    public static string Apply(string dataJson, IReadOnlyList<string>? paths)
    {
        if (paths is not { Count: > 0 })
        {
            return dataJson;
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(dataJson);
        }
        catch (JsonException)
        {
            return dataJson;
        }

        if (root is not JsonObject data)
        {
            return dataJson;
        }

        var changed = false;
        foreach (var path in paths)
        {
            var segments = path.Split('.');
            JsonObject? parent = data;
            for (var i = 1; i < segments.Length - 1 && parent is not null; i++)
            {
                parent = parent[segments[i]] as JsonObject;
            }

            var name = segments[^1];
            if (parent?[name] is JsonValue value && value.GetValueKind() is JsonValueKind.String or JsonValueKind.Number)
            {
                var text = value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString();
                parent[name] = Mask(text);
                changed = true;
            }
        }

        return changed ? data.ToJsonString() : dataJson;
    }

    /// <summary>Replaces every letter and digit but the last <see cref="KeepLast"/> with '*'.</summary>
    public static string Mask(string text)
    {
        var visible = 0;
        foreach (var c in text)
        {
            visible += char.IsLetterOrDigit(c) ? 1 : 0;
        }

        var hide = visible > KeepLast ? visible - KeepLast : visible;
        return string.Create(text.Length, (text, hide), static (span, state) =>
        {
            var (source, hide) = state;
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                if (char.IsLetterOrDigit(c) && hide > 0)
                {
                    span[i] = '*';
                    hide--;
                }
                else
                {
                    span[i] = c;
                }
            }
        });
    }
}
