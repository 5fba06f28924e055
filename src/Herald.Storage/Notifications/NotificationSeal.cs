using System.Buffers.Binary;
using System.Text;
using Herald.Core.Notifications;
using Herald.Storage.Secrets;

namespace Herald.Storage;

/// <summary>
/// How both backends keep a notification's customer values at rest (issue #17): contacts and data in one envelope
/// (<see cref="TenantKeys.Seal"/>, bound to the tenant and the notification id) in column <c>sealed</c>, the plaintext
/// columns holding '{}', and the keyed hashes of phone and email (<see cref="ContactHash"/>) for look-ups. One envelope
/// per notification keeps the cost to one AES-GCM operation on ingest and one per load.
/// </summary>
public static class NotificationSeal
{
    public const string Purpose = "notification";

    /// <summary>What the plaintext columns hold once a row is sealed.</summary>
    public const string Empty = "{}";

    /// <summary>Payload: contacts JSON length (int32, big-endian) | contacts JSON | data JSON, UTF-8.</summary>
    public static byte[] Seal(TenantKeySet keys, Guid id, string contactsJson, string dataJson)
    {
        var contactsLength = Encoding.UTF8.GetByteCount(contactsJson);
        var payload = new byte[4 + contactsLength + Encoding.UTF8.GetByteCount(dataJson)];
        BinaryPrimitives.WriteInt32BigEndian(payload, contactsLength);
        Encoding.UTF8.GetBytes(contactsJson, payload.AsSpan(4));
        Encoding.UTF8.GetBytes(dataJson, payload.AsSpan(4 + contactsLength));
        return TenantKeys.Seal(keys, Purpose, id.ToString("N"), payload);
    }

    public static (string ContactsJson, string DataJson) Open(TenantKeys keys, Guid tenantId, Guid id, byte[] sealedBytes)
    {
        var payload = keys.Open(tenantId, Purpose, id.ToString("N"), sealedBytes);
        var contactsLength = BinaryPrimitives.ReadInt32BigEndian(payload);
        return (Encoding.UTF8.GetString(payload, 4, contactsLength), Encoding.UTF8.GetString(payload, 4 + contactsLength, payload.Length - 4 - contactsLength));
    }

    public static byte[]? PhoneHash(TenantKeySet keys, Contacts contacts) => ContactHash.Compute(keys, ContactKind.Phone, contacts.Phone);

    public static byte[]? EmailHash(TenantKeySet keys, Contacts contacts) => ContactHash.Compute(keys, ContactKind.Email, contacts.Email);
}
