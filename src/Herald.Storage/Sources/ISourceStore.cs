namespace Herald.Storage;

/// <summary>One banking system of a tenant with its adapter and credentials (SPEC §1).</summary>
/// <param name="Adapter">"native", "iso20022", "mapped" or "file".</param>
/// <param name="Settings">The adapter's settings as a JSON object (mapping, file layout, account contacts); comes back as
/// equivalent JSON, not necessarily the same text.</param>
/// <param name="SigningSecret">The HMAC signing secret as the caller protected it (encrypted), or null when the source
/// does not require signed requests. The store keeps it as given.</param>
/// <param name="ClientCertificate">The fingerprint (hex, normalised) of the client certificate the source must present (via the
/// TLS-terminating proxy), or null.</param>
public sealed record Source(
    Guid Id, Guid TenantId, string Name, string Adapter, string Settings, string? SigningSecret, string? ClientCertificate,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Sources and the signatures they have used. Every member is scoped to the tenant that owns the source.</summary>
public interface ISourceStore
{
    /// <summary>Stores a new source (the tenant must exist). Returns it with the stored (millisecond) times.</summary>
    Task<Source> CreateAsync(Source source, CancellationToken ct);

    /// <summary>The source, or null when it does not exist or belongs to another tenant.</summary>
    Task<Source?> GetAsync(Guid tenantId, Guid sourceId, CancellationToken ct);

    /// <summary>The tenant's sources, oldest first.</summary>
    Task<IReadOnlyList<Source>> ListAsync(Guid tenantId, CancellationToken ct);

    /// <summary>Replaces name, adapter, settings, signing secret, client certificate and update time of the source with
    /// <paramref name="source"/>'s id and tenant; the creation time is kept. Null when there is no such source.</summary>
    Task<Source?> UpdateAsync(Source source, CancellationToken ct);

    /// <summary>Deletes the source; false when there was no such source.</summary>
    Task<bool> DeleteAsync(Guid tenantId, Guid sourceId, CancellationToken ct);

    /// <summary>
    /// Replay protection, shared by every node: records that <paramref name="signature"/> was used for the source until
    /// <paramref name="expiresAt"/>. Returns false when the same signature is recorded and not yet expired at
    /// <paramref name="now"/> (a replay); an expired record is replaced. Also drops some expired records.
    /// </summary>
    Task<bool> TryUseSignatureAsync(Guid sourceId, byte[] signature, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken ct);
}
