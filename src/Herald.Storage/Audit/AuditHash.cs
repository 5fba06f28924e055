using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Storage;

/// <summary>
/// The chain's hash: SHA-256 (lowercase hex) over a canonical encoding of an entry's fields and the previous entry's
/// hash. Every field is written as its UTF-8 byte length, a colon and its bytes (a missing one as <c>~</c>), so no two
/// different entries encode alike whatever their text holds. The same function runs on append and on verify, in both
/// backends; anyone holding an export can recompute it.
/// </summary>
public static class AuditHash
{
    /// <summary>The previous hash of a chain's first entry.</summary>
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    private const string Version = "herald-audit-v1";

    /// <summary>The hash of <paramref name="entry"/> (its own <see cref="AuditEntry.Hash"/> is not read).</summary>
    public static string Of(AuditEntry entry)
    {
        var text = new StringBuilder(Version);
        Field(text, entry.Id.ToString("D"));
        Field(text, entry.TenantId?.ToString("D") ?? "");
        Field(text, entry.Seq.ToString(CultureInfo.InvariantCulture));
        Field(text, entry.At.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        Field(text, entry.Actor);
        Field(text, entry.KeyId?.ToString("D"));
        Field(text, entry.Action);
        Field(text, entry.ResourceType);
        Field(text, entry.ResourceId);
        Field(text, entry.Diff);
        Field(text, entry.RequestId);
        Field(text, entry.ClientAddress);
        Field(text, entry.PrevHash);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static void Field(StringBuilder text, string? value)
    {
        text.Append('\n');
        if (value is null)
        {
            text.Append('~');
            return;
        }

        text.Append(Encoding.UTF8.GetByteCount(value).ToString(CultureInfo.InvariantCulture)).Append(':').Append(value);
    }

    /// <summary>The next entry of a chain whose head is (<paramref name="seq"/>, <paramref name="prevHash"/>), hashed.
    /// The time is cut to milliseconds, the precision both backends keep.</summary>
    public static AuditEntry Next(AuditChange change, Guid id, long seq, string prevHash)
    {
        var entry = new AuditEntry(
            id, change.TenantId, seq + 1, DateTimeOffset.FromUnixTimeMilliseconds(change.At.ToUnixTimeMilliseconds()),
            change.Actor.Name, change.Actor.KeyId, change.Action, change.ResourceType, change.ResourceId, change.Diff,
            change.Actor.RequestId, change.Actor.ClientAddress, prevHash, "");
        return entry with { Hash = Of(entry) };
    }

    /// <summary>Checks a whole chain given in sequence order (see <see cref="AuditChainCheck"/>).</summary>
    public static AuditVerification Verify(IEnumerable<AuditEntry> ordered, (long Seq, string Hash)? head)
    {
        var check = new AuditChainCheck();
        foreach (var entry in ordered)
        {
            if (!check.Add(entry))
            {
                break;
            }
        }

        return check.Finish(head);
    }
}

/// <summary>
/// Walks a chain in sequence order, one entry at a time (a chain may be too long to hold), and keeps the first entry
/// that breaks it: a sequence gap or repeat (a removed or reordered entry), a previous hash that is not the hash of the
/// entry before (the same), or a hash that does not match the content (an altered entry). The chain's recorded head
/// finds a removed last entry.
/// </summary>
/// <param name="purgedSeq">The chain's anchor: the last entry deleted by the audit retention (0: none), where the
/// check starts.</param>
/// <param name="purgedHash">That entry's hash, which the first remaining entry must name as its previous one.</param>
public sealed class AuditChainCheck(long purgedSeq = 0, string? purgedHash = null)
{
    private long _expectedSeq = purgedSeq + 1;
    private string _expectedPrev = purgedHash ?? AuditHash.Genesis;
    private long _checked;
    private AuditVerification? _broken;

    /// <summary>Checks the next entry; false once the chain is broken (later entries need not be read).</summary>
    public bool Add(AuditEntry entry)
    {
        if (_broken is not null)
        {
            return false;
        }

        var reason = entry.Seq != _expectedSeq ? $"expected sequence {_expectedSeq}, found {entry.Seq}"
            : entry.PrevHash != _expectedPrev ? "its previous hash is not the hash of the entry before"
            : AuditHash.Of(entry) != entry.Hash ? "its content does not match its hash"
            : null;
        if (reason is not null)
        {
            _broken = new AuditVerification(false, _checked, _expectedSeq, entry.Id, reason) { PurgedThroughSeq = purgedSeq };
            return false;
        }

        _checked++;
        _expectedSeq++;
        _expectedPrev = entry.Hash;
        return true;
    }

    /// <summary>The result, comparing the end of the entries with the chain's recorded <paramref name="head"/> (null:
    /// the chain has never been written).</summary>
    public AuditVerification Finish((long Seq, string Hash)? head)
    {
        if (_broken is not null)
        {
            return _broken;
        }

        var (headSeq, headHash) = head ?? (0, AuditHash.Genesis);
        return headSeq != _expectedSeq - 1 || headHash != _expectedPrev
            ? new AuditVerification(false, _checked, _expectedSeq, null, $"the chain's head is at sequence {headSeq}, the entries end at {_expectedSeq - 1}") { PurgedThroughSeq = purgedSeq }
            : new AuditVerification(true, _checked, null, null, null) { PurgedThroughSeq = purgedSeq };
    }
}

/// <summary>
/// The act the current request is about to make, for the store that makes it: a configuration store appends
/// <see cref="Pending"/> to the audit trail inside the transaction of its write, so there is no change without its
/// entry and no entry for a change that rolled back. An ambient value rather than a parameter of every store method:
/// the stores' contracts stay as they are (the store tests and the delivery paths that write without an actor need no
/// change), and the request's actor, which only the host knows, reaches the transaction without threading it through
/// each layer. A scope covers one store write; a write that changes nothing appends nothing; retries inside the store
/// append it again in their own transaction, which is right as only the committed one counts.
/// </summary>
public static class AuditScope
{
    private static readonly AsyncLocal<AuditChange?> Current = new();

    /// <summary>The act a store write in this async flow records, or null (Herald's own writes, tests).</summary>
    public static AuditChange? Pending => Current.Value;

    /// <summary>Records <paramref name="change"/> with the store writes made until the returned handle is disposed;
    /// null records nothing (for writes a surrounding scope must not claim).</summary>
    public static IDisposable Expect(AuditChange? change)
    {
        var previous = Current.Value;
        Current.Value = change;
        return new Restore(previous);
    }

    private sealed class Restore(AuditChange? previous) : IDisposable
    {
        public void Dispose() => Current.Value = previous;
    }
}
