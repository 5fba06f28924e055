using System.Text.Json;
using Herald.Core.Notifications;

namespace Herald.Core.Planning;

/// <summary>The group a digest or a throttle counts a notification in: tenant-local type, customer (its id, else its
/// first address) and, with a keyed action, the value at a data path. One definition for both actions.</summary>
public static class GroupKey
{
    /// <param name="dataPath">A rule's <c>key</c> (e.g. <c>data.account</c>); null groups by type and customer only.</param>
    public static string Of(NewNotification n, string? dataPath)
    {
        var c = n.Contacts;
        var customer = n.CustomerId is { } id ? "id:" + id : "to:" + (c.Phone ?? c.Email ?? c.TelegramChatId ?? c.PushToken ?? "");
        var key = n.Type + "\n" + customer;
        return dataPath is { } path ? key + "\n" + ValueAt(n.DataJson, path) : key;
    }

    private static string ValueAt(string dataJson, string path)
    {
        using var document = JsonDocument.Parse(dataJson);
        var element = document.RootElement;
        foreach (var part in path.Split('.').Skip(1))
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(part, out element))
            {
                return "";
            }
        }

        return element.ValueKind == JsonValueKind.String ? element.GetString()! : element.GetRawText();
    }
}
