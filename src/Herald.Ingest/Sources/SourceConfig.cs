using System.Text.Json;
using Herald.Ingest.Files;
using Herald.Ingest.Iso20022;
using Herald.Ingest.Mapped;

namespace Herald.Ingest.Sources;

/// <summary>A source's protocol adapter (SPEC §1).</summary>
public enum SourceAdapter
{
    Native,
    Iso20022,
    Mapped,
    File,
}

/// <summary>
/// A source's adapter with its validated settings: <c>native</c> takes none; <c>iso20022</c> takes
/// <see cref="Camt054Settings"/>; <c>mapped</c> takes <c>{"mapping"}</c>; <c>file</c> takes <c>{"layout", "mapping"}</c>.
/// </summary>
public sealed record SourceConfig(SourceAdapter Adapter, Camt054Settings? Camt, FieldMapping? Mapping, FileLayout? Layout)
{
    public static readonly IReadOnlyList<string> AdapterNames = ["native", "iso20022", "mapped", "file"];

    public static string Name(SourceAdapter adapter) => AdapterNames[(int)adapter];

    public static SourceAdapter? ParseAdapter(string? name) => name switch
    {
        "native" => SourceAdapter.Native,
        "iso20022" => SourceAdapter.Iso20022,
        "mapped" => SourceAdapter.Mapped,
        "file" => SourceAdapter.File,
        _ => null,
    };

    /// <summary>Validates <paramref name="settings"/> for <paramref name="adapter"/>; errors are JSON Pointers with prefix <paramref name="p"/>.</summary>
    public static (SourceConfig? Config, IReadOnlyList<InputError> Errors) Parse(SourceAdapter adapter, JsonElement settings, string p = "/settings")
    {
        var present = settings.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null);
        if (present && settings.ValueKind != JsonValueKind.Object)
        {
            return (null, [new InputError(p, "Must be an object.")]);
        }

        switch (adapter)
        {
            case SourceAdapter.Native:
                return present && settings.EnumerateObject().Any()
                    ? (null, [new InputError(p, "The native adapter takes no settings.")])
                    : (new SourceConfig(adapter, null, null, null), []);
            case SourceAdapter.Iso20022:
            {
                var (camt, errors) = Camt054Settings.Parse(settings, p);
                return camt is null ? (null, errors) : (new SourceConfig(adapter, camt, null, null), []);
            }

            default:
            {
                var errors = new List<InputError>();
                FieldMapping? mapping = null;
                FileLayout? layout = null;
                JsonElement layoutJson = default;
                if (present)
                {
                    foreach (var property in settings.EnumerateObject())
                    {
                        switch (property.Name)
                        {
                            case "mapping":
                                var (m, mappingErrors) = FieldMapping.Parse(property.Value, p + "/mapping");
                                mapping = m;
                                errors.AddRange(mappingErrors);
                                break;
                            case "layout" when adapter == SourceAdapter.File:
                                layoutJson = property.Value;
                                break;
                            default:
                                errors.Add(new(p + "/" + FieldMapping.Escape(property.Name),
                                    adapter == SourceAdapter.File ? "Unknown; a file source takes 'layout' and 'mapping'." : "Unknown; a mapped source takes 'mapping'."));
                                break;
                        }
                    }
                }

                if (mapping is null && !errors.Any(e => e.Pointer.StartsWith(p + "/mapping", StringComparison.Ordinal)))
                {
                    errors.Add(new(p + "/mapping", "Required: how the source's fields become a notification."));
                }

                if (adapter == SourceAdapter.File)
                {
                    if (layoutJson.ValueKind == JsonValueKind.Undefined)
                    {
                        errors.Add(new(p + "/layout", "Required: the file's layout (format csv or fixed)."));
                    }
                    else
                    {
                        var (l, layoutErrors) = FileLayout.Parse(layoutJson, p + "/layout", mapping, p + "/mapping");
                        layout = l;
                        errors.AddRange(layoutErrors);
                    }

                    if (mapping?.Items is not null)
                    {
                        errors.Add(new(p + "/mapping/items", "Files map one line at a time; 'items' is for mapped JSON."));
                    }
                }

                return errors.Count > 0 ? (null, errors) : (new SourceConfig(adapter, null, mapping, layout), errors);
            }
        }
    }
}
