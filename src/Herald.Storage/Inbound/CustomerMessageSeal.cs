using System.Buffers.Binary;
using System.Text;
using Herald.Core.Notifications;
using Herald.Storage.Secrets;

namespace Herald.Storage;

/// <summary>
/// How both backends keep what a customer sent in at rest (issue #17): sender and text in one envelope bound to the
/// tenant and the message id, column <c>sender</c> '' and <c>text</c> '' (NULL when there was no text, so erasure's
/// test on NULL holds), and the keyed hash of the sender (<see cref="ContactKind.Sender"/>) for look-ups.
/// </summary>
internal static class CustomerMessageSeal
{
    public const string Purpose = "customer-message";

    /// <summary>Payload: sender length (int32, big-endian) | sender | 1 when there is a text, else 0 | text, UTF-8.</summary>
    public static byte[] Seal(TenantKeySet keys, CustomerMessage message) => Seal(keys, message.Id, message.From, message.Text);

    public static byte[] Seal(TenantKeySet keys, Guid id, string sender, string? text)
    {
        var senderLength = Encoding.UTF8.GetByteCount(sender);
        var payload = new byte[4 + senderLength + 1 + Encoding.UTF8.GetByteCount(text ?? "")];
        BinaryPrimitives.WriteInt32BigEndian(payload, senderLength);
        Encoding.UTF8.GetBytes(sender, payload.AsSpan(4));
        payload[4 + senderLength] = text is null ? (byte)0 : (byte)1;
        Encoding.UTF8.GetBytes(text ?? "", payload.AsSpan(5 + senderLength));
        return TenantKeys.Seal(keys, Purpose, id.ToString("N"), payload);
    }

    /// <summary>Sender and text of a sealed message.</summary>
    public static (string Sender, string? Text) OpenValues(TenantKeys keys, Guid tenantId, Guid id, byte[] sealedBytes)
    {
        var payload = keys.Open(tenantId, Purpose, id.ToString("N"), sealedBytes);
        var senderLength = BinaryPrimitives.ReadInt32BigEndian(payload);
        var hasText = payload[4 + senderLength] == 1;
        return (Encoding.UTF8.GetString(payload, 4, senderLength),
            hasText ? Encoding.UTF8.GetString(payload, 5 + senderLength, payload.Length - 5 - senderLength) : null);
    }

    /// <summary>The message with its sender and text, opened from <paramref name="sealedBytes"/> when it is sealed.</summary>
    public static CustomerMessage Open(TenantKeys keys, CustomerMessage stored, byte[]? sealedBytes)
    {
        if (sealedBytes is null)
        {
            return stored;
        }

        var (sender, text) = OpenValues(keys, stored.TenantId, stored.Id, sealedBytes);
        return stored with { From = sender, Text = text };
    }

    public static byte[]? SenderHash(TenantKeySet keys, string sender) => ContactHash.Compute(keys, ContactKind.Sender, sender);

    /// <summary>The hashes of a conversation's addresses (a phone, a chat id), as the senders are hashed.</summary>
    public static byte[][] SenderHashes(TenantKeySet keys, IReadOnlyList<string> addresses) =>
        [.. addresses.Select(a => SenderHash(keys, a)).OfType<byte[]>()];
}
