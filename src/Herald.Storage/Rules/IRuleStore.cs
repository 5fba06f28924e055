namespace Herald.Storage;

/// <summary>One version of a tenant's rule set. Versions are never changed or removed: every change, a rollback
/// included, appends the next number, so the history stays linear.</summary>
/// <param name="Document">The rule set document exactly as the author sent it.</param>
/// <param name="Author">Who made the change: the API key, as <c>key {id} ({prefix})</c>.</param>
/// <param name="RolledBackFrom">For a rollback, the version whose document this one restores.</param>
public sealed record RuleSetVersion(
    Guid TenantId, long Version, string Document, string Author, DateTimeOffset CreatedAt, string? Comment, long? RolledBackFrom);

/// <summary>A change to append to a tenant's rule set history.</summary>
/// <param name="ExpectedVersion">Append only if the tenant's current version is this one (0: no rules yet); null
/// appends after whatever is current.</param>
public sealed record RuleSetChange(
    Guid TenantId, string Document, string Author, string? Comment, long? ExpectedVersion, long? RolledBackFrom = null);

/// <summary>The versioned rule sets of every tenant (SPEC §3, <c>/v1/rules</c>). Every appended version is announced on
/// the <see cref="IChangeFeed"/> as <see cref="ChangeKinds.Rules"/>.</summary>
public interface IRuleStore
{
    /// <summary>The tenant's newest version, or null when it has never stored rules.</summary>
    Task<RuleSetVersion?> GetCurrentAsync(Guid tenantId, CancellationToken ct);

    Task<RuleSetVersion?> GetVersionAsync(Guid tenantId, long version, CancellationToken ct);

    /// <summary>Newest first; only versions below <paramref name="before"/> when given; <paramref name="limit"/>
    /// clamped to 1..200.</summary>
    Task<IReadOnlyList<RuleSetVersion>> ListVersionsAsync(Guid tenantId, long? before, int limit, CancellationToken ct);

    /// <summary>
    /// Appends the next version (1 for a tenant's first). Returns null, storing nothing, when
    /// <see cref="RuleSetChange.ExpectedVersion"/> is given and is not the current version. Concurrent appends
    /// without an expected version all succeed, each with its own consecutive number. The tenant must exist.
    /// </summary>
    Task<RuleSetVersion?> AppendAsync(RuleSetChange change, DateTimeOffset now, CancellationToken ct);

    /// <summary>The current version number of every tenant that has rules: the start-up load and the safety poll.</summary>
    Task<IReadOnlyDictionary<Guid, long>> CurrentVersionsAsync(CancellationToken ct);
}
