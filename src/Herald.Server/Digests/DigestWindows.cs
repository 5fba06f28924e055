using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Core.Rules;
using Herald.Storage;

namespace Herald.Server.Digests;

/// <summary>
/// Digests (issue #4 item 7, docs/RULES.md): at ingest a notification a <c>digest</c> rule applies to joins the open
/// window of its key (tenant, type, customer and optionally a data value) in the database and is held until the window
/// closes; when it comes due, the newest member of the window is sent, carrying <c>data.digest.count</c> and
/// <c>data.digest.items</c>, and every other member ends <c>suppressed</c> with an attempt coded <c>digested</c> that
/// names the notification sent in its place. Notification types no digest rule names never reach this code.
/// </summary>
public static class DigestWindows
{
    /// <summary>The attempt error code of a notification collapsed into another one's digest.</summary>
    public const string DigestedCode = "digested";

    /// <summary>The digest key: type, customer (its id, else its first address) and, with a keyed digest, the data value.</summary>
    public static string KeyOf(NewNotification n, DigestPolicy policy)
    {
        var c = n.Contacts;
        var customer = n.CustomerId is { } id ? "id:" + id : "to:" + (c.Phone ?? c.Email ?? c.TelegramChatId ?? c.PushToken ?? "");
        var key = n.Type + "\n" + customer;
        return policy.Key is { } path ? key + "\n" + ValueAt(n.DataJson, path) : key;
    }

    /// <summary>Joins the notification's digest window and holds it until the window closes.</summary>
    public static async Task<PreparedNotification> JoinAsync(
        IDigestStore store, PreparedNotification prepared, DigestPolicy policy, DateTimeOffset now, CancellationToken ct)
    {
        var request = prepared.Request;
        var key = KeyOf(request, policy);
        var closes = await store.JoinAsync(request.TenantId, key, prepared.Id, now, policy.Window, ct);
        return prepared with
        {
            Route = prepared.Route with { Digest = new DigestMembership(key, closes) },
            NotBefore = prepared.NotBefore is { } notBefore && notBefore > closes ? notBefore : closes,
        };
    }

    /// <summary>What a worker does with a digest member that came due: either Collapsed, the update that ends it
    /// suppressed as part of another's digest, or (Collapsed null) Send, the notification to send with the digest data.</summary>
    public static async Task<(DeliveryUpdate? Collapsed, Notification Send)> ResolveAsync(
        IDigestStore store, Notification n, DigestMembership digest, DateTimeOffset now, CancellationToken ct)
    {
        var members = await store.MembersAsync(n.TenantId, digest.Key, digest.ClosesAt, ct);
        if (!members.Contains(n.Id))
        {
            // Its join was lost (it cannot be, short of a manual delete): send it on its own rather than drop it.
            return (null, n);
        }

        var latest = members[^1];
        if (latest != n.Id)
        {
            var attempt = new Attempt
            {
                Id = Guid.CreateVersion7(now), NotificationId = n.Id, Step = n.Progress.Step, Channel = n.Route.Steps[n.Progress.Step].Channel,
                State = AttemptState.Failed, FailureKind = "permanent", ErrorCode = DigestedCode,
                Error = $"Collapsed into the digest sent as notification {latest}.", CreatedAt = now, UpdatedAt = now,
            };
            var transition = new Transition(NotificationStatus.Suppressed, n.Progress, null, QueueAction.Remove);
            return (new DeliveryUpdate(n.Id, n.Version, transition, [attempt]), n);
        }

        return (null, n with { DataJson = WithDigest(n.DataJson, members) });
    }

    private static string WithDigest(string dataJson, IReadOnlyList<Guid> members)
    {
        var data = JsonNode.Parse(dataJson) as JsonObject ?? [];
        var items = new JsonArray();
        foreach (var id in members)
        {
            items.Add(id.ToString());
        }

        data["digest"] = new JsonObject { ["count"] = members.Count, ["items"] = items };
        return data.ToJsonString();
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
