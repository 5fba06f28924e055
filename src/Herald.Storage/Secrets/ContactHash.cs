using System.Security.Cryptography;
using System.Text;

namespace Herald.Storage.Secrets;

/// <summary>The kinds of contact a keyed hash is taken of; the kind is hashed too, so a phone never equals a chat id.</summary>
public enum ContactKind : byte
{
    Phone = 1,
    Email = 2,
    ChatId = 3,

    /// <summary>An inbound sender address as the vendor gave it (a phone or a chat id), compared exactly (trimmed): the
    /// customer messages' senders.</summary>
    Sender = 4,

    /// <summary>A consent ledger address, already in the ledger's normal form (ConsentAddress.Normalize), compared exactly
    /// (trimmed) whatever its channel.</summary>
    Consent = 5,
}

/// <summary>
/// The keyed hash that stands in for a contact wherever Herald looks rows up by it (erasure by phone or email, the SMS
/// reply correlation, inbound senders): HMAC-SHA256 with the tenant's look-up key (<see cref="TenantKeySet.LookupKey"/>)
/// over the kind and the normalised contact, truncated to <see cref="Size"/> bytes. Equal contacts of one tenant hash
/// equal; another tenant's hash of the same phone differs, and nobody without the key can test a guessed phone against
/// a stored hash (a plain SHA-256 of the 10^10 phone numbers is a table away). Any store that must find rows by a contact
/// stores this hash next to the encrypted value and indexes it.
/// </summary>
public static class ContactHash
{
    /// <summary>128 bits: collisions between a tenant's contacts are out of reach, and the index stays small.</summary>
    public const int Size = 16;

    /// <summary>The contact as it is hashed: a phone as '+' and its digits (E.164 without separators), an email
    /// trimmed and lower-cased, a chat id trimmed.</summary>
    public static string Normalise(ContactKind kind, string value) => kind switch
    {
        ContactKind.Phone => NormalisePhone(value),
        ContactKind.Email => value.Trim().ToLowerInvariant(),
        _ => value.Trim(),
    };

    /// <summary>The hash of <paramref name="value"/> with the tenant's look-up key; null for a null or blank value.</summary>
    public static byte[]? Compute(TenantKeySet keys, ContactKind kind, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        keys.Mac(Input((byte)kind, Normalise(kind, value)), mac);
        return mac[..Size].ToArray();
    }

    /// <summary>What is hashed: the kind byte, then the text in UTF-8.</summary>
    private static byte[] Input(byte kind, string text)
    {
        var input = new byte[1 + Encoding.UTF8.GetByteCount(text)];
        input[0] = kind;
        Encoding.UTF8.GetBytes(text, input.AsSpan(1));
        return input;
    }

    /// <summary>What a digest or throttle group key is stored as (issue #17): the key names the customer ("to:+4915…" for
    /// inline contacts, a data value), yet it is only ever compared for equality, so <see cref="GroupPrefix"/> and the hex
    /// of its keyed hash (taken over the key exactly, not normalised) stand in for it. Idempotent: a key that is a group
    /// hash already is answered as it is.</summary>
    public static string Group(TenantKeySet keys, string groupKey)
    {
        if (groupKey.StartsWith(GroupPrefix, StringComparison.Ordinal))
        {
            return groupKey;
        }

        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        keys.Mac(Input(GroupKind, groupKey), mac);
        return GroupPrefix + Convert.ToHexStringLower(mac[..Size]);
    }

    /// <summary>How a hashed group key begins (a planner's key begins with the notification type, which has no '#').</summary>
    public const string GroupPrefix = "#k1:";

    /// <summary>The hashed kind byte of group keys, apart from every <see cref="ContactKind"/>.</summary>
    private const byte GroupKind = 0xF0;

    private static string NormalisePhone(string value)
    {
        var digits = new StringBuilder(value.Length + 1).Append('+');
        foreach (var c in value)
        {
            if (char.IsAsciiDigit(c))
            {
                digits.Append(c);
            }
        }

        return digits.ToString();
    }
}
