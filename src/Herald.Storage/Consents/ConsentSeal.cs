using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Storage.Secrets;

namespace Herald.Storage;

/// <summary>
/// How both backends keep the consent ledger's addresses at rest (issue #17): column <c>address</c> holds '' and the
/// address is sealed with the tenant's data key, bound to the tenant and the entry's id (<c>sealed</c>); the tenant's keyed
/// hash of it (<see cref="ContactKind.Consent"/>, <c>address_hash</c>) is what the ledger is looked up and grouped by.
/// Entries from before this (sealed NULL) keep their plaintext address until <c>herald reencrypt</c> seals them; erasure
/// sets the address to <see cref="ConsentAddress.Redacted"/> and clears both the envelope and the hash, so nothing left in
/// the row, not even with the tenant's keys, confirms which address it was.
/// </summary>
internal static class ConsentSeal
{
    public const string Purpose = "consent";

    /// <summary>What the <c>address</c> column holds for a sealed entry.</summary>
    public const string SealedAddress = "";

    public static byte[] Seal(TenantKeySet keys, Guid id, string address) => TenantKeys.SealText(keys, Purpose, id.ToString("N"), address);

    /// <summary>The hash an address is looked up by; the ledger's addresses are normalised already
    /// (<see cref="ConsentAddress.Normalize"/>), so one kind serves every channel and a filter without a channel.</summary>
    public static byte[]? Hash(TenantKeySet keys, string? address) =>
        address is null || address == ConsentAddress.Redacted ? null : ContactHash.Compute(keys, ContactKind.Consent, address);

    /// <summary>The entry with its address, opened from <paramref name="sealedBytes"/> when it is sealed.</summary>
    public static ConsentEntry Open(TenantKeys keys, ConsentEntry stored, byte[]? sealedBytes) =>
        sealedBytes is null ? stored : stored with { Address = keys.OpenText(stored.TenantId, Purpose, stored.Id.ToString("N"), sealedBytes) };

    /// <summary>The latest entry per (channel, address, type) of what the backends' queries found: each query groups by
    /// hash for sealed entries and by address for plaintext ones, so an address with entries of both kinds (before
    /// <c>herald reencrypt</c> finished) comes back twice and only its newest entry is kept here.</summary>
    public static IReadOnlyList<ConsentEntry> Latest(IReadOnlyList<ConsentEntry> candidates)
    {
        var latest = new Dictionary<(Channel, string, string?), ConsentEntry>();
        foreach (var entry in candidates)
        {
            var key = (entry.Channel, entry.Address, entry.Type);
            if (!latest.TryGetValue(key, out var seen) || seen.Id.CompareTo(entry.Id) < 0)
            {
                latest[key] = entry;
            }
        }

        return [.. latest.Values];
    }
}
