using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Storage.Secrets;

namespace Herald.Storage;

/// <summary>The tables whose customer values are sealed (issue #17), in the order <c>herald reencrypt</c> walks them.</summary>
public enum ReencryptionTable
{
    Notifications,
    CustomerMessages,
    Customers,

    /// <summary>The consent ledger's addresses (<see cref="ConsentSeal"/>).</summary>
    Consents,
}

/// <summary>One batch's outcome: rows looked at, rows rewritten, and whether the table's pass is complete.</summary>
public sealed record ReencryptionBatch(int Scanned, int Rewritten, bool Done);

/// <summary>
/// Re-encryption (issue #17, <c>herald reencrypt</c>): moves every row of a table to the tenant's current data key, in
/// batches in key order, each batch one short transaction that locks only its rows (safe while Herald serves: a row
/// being delivered waits a moment, or is done in the next run). Plaintext rows from before encryption at rest are
/// sealed and get their contact hashes; rows sealed with an older data key version are re-sealed. Where a pass got to is
/// kept in <c>reencryption_progress</c>, so a stopped run resumes after its last batch; a finished pass clears it.
/// </summary>
public interface IReencryptionStore
{
    Task<ReencryptionBatch> RunBatchAsync(ReencryptionTable table, int batch, CancellationToken ct);

    /// <summary>Forgets where the passes got to (after a key rotation every row must be looked at again).</summary>
    Task ResetAsync(CancellationToken ct);
}

/// <summary>What a row becomes, shared by both backends.</summary>
internal static class Reencrypt
{
    /// <summary>The key of a pass's progress row.</summary>
    public static string Name(ReencryptionTable table) => table switch
    {
        ReencryptionTable.Notifications => "notifications",
        ReencryptionTable.CustomerMessages => "customer_messages",
        ReencryptionTable.Consents => "consents",
        _ => "customers",
    };

    /// <summary>Whether a sealed value needs a new envelope: sealed with an older data key version than the current.</summary>
    public static bool Stale(TenantKeySet keys, byte[] sealedBytes) => TenantKeys.VersionOf(sealedBytes) != keys.CurrentVersion;

    /// <summary>A plaintext notification's envelope and hashes; an erased one's markers are not hashed.</summary>
    public static (byte[] Sealed, byte[]? Phone, byte[]? Email) Notification(TenantKeySet keys, Guid id, string contactsJson, string dataJson)
    {
        var contacts = StorageJson.DeserializeContacts(contactsJson);
        return (NotificationSeal.Seal(keys, id, contactsJson, dataJson),
            contacts.Phone == IErasureStore.Marker ? null : NotificationSeal.PhoneHash(keys, contacts),
            contacts.Email == IErasureStore.Marker ? null : NotificationSeal.EmailHash(keys, contacts));
    }

    /// <summary>A re-sealed notification (its hashes stay: the look-up key never rotates).</summary>
    public static byte[] Notification(TenantKeys tenantKeys, TenantKeySet keys, Guid id, byte[] sealedBytes)
    {
        var (contacts, data) = NotificationSeal.Open(tenantKeys, keys.TenantId, id, sealedBytes);
        return NotificationSeal.Seal(keys, id, contacts, data);
    }

    /// <summary>A plaintext customer message's envelope and sender hash; an erased one's marker is not hashed.</summary>
    public static (byte[] Sealed, byte[]? SenderHash) Message(TenantKeySet keys, Guid id, string sender, string? text) =>
        (CustomerMessageSeal.Seal(keys, id, sender, text), sender == IErasureStore.Marker ? null : CustomerMessageSeal.SenderHash(keys, sender));

    public static byte[] Message(TenantKeys tenantKeys, TenantKeySet keys, Guid id, byte[] sealedBytes)
    {
        var (sender, text) = CustomerMessageSeal.OpenValues(tenantKeys, keys.TenantId, id, sealedBytes);
        return CustomerMessageSeal.Seal(keys, id, sender, text);
    }

    public static byte[] Customer(TenantKeys tenantKeys, TenantKeySet keys, string id, string document, byte[]? sealedBytes) =>
        TenantKeys.SealText(keys, CustomerSeal.Purpose, id, CustomerSeal.Document(tenantKeys, keys.TenantId, id, document, sealedBytes));

    /// <summary>A consent entry's new envelope and hash: a plaintext address sealed and hashed, or a sealed one re-sealed
    /// (its hash stays: the look-up key never rotates). Null for an erased entry, which holds nothing to seal.</summary>
    public static (byte[] Sealed, byte[]? Hash)? Consent(TenantKeys tenantKeys, TenantKeySet keys, Guid id, string address, byte[]? sealedBytes, byte[]? hash)
    {
        if (sealedBytes is null)
        {
            return address == Core.Customers.ConsentAddress.Redacted ? null : (ConsentSeal.Seal(keys, id, address), ConsentSeal.Hash(keys, address));
        }

        return Stale(keys, sealedBytes)
            ? (ConsentSeal.Seal(keys, id, tenantKeys.OpenText(keys.TenantId, ConsentSeal.Purpose, id.ToString("N"), sealedBytes)), hash)
            : null;
    }

    /// <summary>Normalises stored JSON text (PostgreSQL's jsonb prints spaces) before sealing: not needed for correctness,
    /// but keeps the sealed payload the same shape as new rows'.</summary>
    public static string Compact(string json) => JsonNode.Parse(json)?.ToJsonString() ?? JsonSerializer.Serialize<object?>(null);
}
