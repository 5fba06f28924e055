using System.Text;
using System.Text.Json;
using Herald.Core.Notifications;

namespace Herald.Server.Delivery;

/// <summary>
/// The text a channel sends until per-tenant templates exist: <c>data.text</c> when the bank supplied one,
/// otherwise the type and the data's fields, one per line.
/// </summary>
public static class MessageComposer
{
    public static string Compose(Notification n)
    {
        using var document = JsonDocument.Parse(n.DataJson);
        var root = document.RootElement;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
        {
            return text.GetString()!;
        }

        var builder = new StringBuilder(n.Type);
        if (root.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in root.EnumerateObject())
            {
                builder.Append('\n').Append(property.Name).Append(": ")
                    .Append(property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : property.Value.GetRawText());
            }
        }

        return builder.ToString();
    }
}
