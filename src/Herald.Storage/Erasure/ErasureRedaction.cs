using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Storage.Secrets;

namespace Herald.Storage;

/// <summary>
/// What erasure leaves of a notification's contacts and data, computed in code so that sealed rows (issue #17, decrypted
/// here) and plaintext rows get the same result: every contact but the language, and every top-level data value, become
/// <see cref="IErasureStore.Marker"/>; keys stay (they say what kind of data was sent, not what it was). The result holds
/// nothing of the customer's, so it is stored in the plaintext columns and the envelope and contact hashes are cleared.
/// </summary>
internal static class ErasureRedaction
{
    public static string Contacts(string json)
    {
        var redacted = new JsonObject();
        if (JsonNode.Parse(json) is JsonObject contacts)
        {
            foreach (var (key, value) in contacts)
            {
                redacted[key] = key == "language" ? value?.DeepClone() : IErasureStore.Marker;
            }
        }

        return redacted.ToJsonString();
    }

    public static string Data(string json)
    {
        if (JsonNode.Parse(json) is not JsonObject data)
        {
            return JsonSerializer.Serialize(IErasureStore.Marker);
        }

        var redacted = new JsonObject();
        foreach (var (key, _) in data)
        {
            redacted[key] = IErasureStore.Marker;
        }

        return redacted.ToJsonString();
    }

    /// <summary>The redacted contacts and data of a row, sealed (opened with the tenant's keys) or not.</summary>
    public static (string Contacts, string Data) Of(TenantKeys keys, Guid tenantId, Guid id, string contactsJson, string dataJson, byte[]? sealedBytes)
    {
        if (sealedBytes is not null)
        {
            (contactsJson, dataJson) = NotificationSeal.Open(keys, tenantId, id, sealedBytes);
        }

        return (Contacts(contactsJson), Data(dataJson));
    }

    /// <summary>The look-up hashes of an erasure target: its phone and email with the tenant's look-up key.</summary>
    public static (byte[]? Phone, byte[]? Email) Hashes(TenantKeySet keys, ErasureTarget target) =>
        (ContactHash.Compute(keys, ContactKind.Phone, target.Phone), ContactHash.Compute(keys, ContactKind.Email, target.Email));
}
