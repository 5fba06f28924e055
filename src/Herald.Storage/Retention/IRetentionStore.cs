namespace Herald.Storage;

/// <summary>
/// How long a tenant's delivery records are kept (issue #17, docs/OPERATIONS.md "Retention"): notifications with
/// their attempts and attempt parts, and bank webhook deliveries. A notification that is not final is never purged;
/// one holding an idempotency key keeps it for the key's window even when the tenant's retention is shorter.
/// </summary>
public static class RetentionPolicy
{
    public const int DefaultDays = 90;
    public const int MinDays = 1;
    public const int MaxDays = 3650;

    /// <summary>SPEC §3: a repeated Idempotency-Key answers with the first notification for this long.</summary>
    public static readonly TimeSpan IdempotencyWindow = TimeSpan.FromDays(7);

    /// <summary>The smallest UUIDv7 of <paramref name="time"/>'s millisecond: every id made before it is smaller (ids
    /// are UUIDv7, so "created before" is an id range on the indexes the tables already have).</summary>
    public static Guid FirstIdAt(DateTimeOffset time)
    {
        Span<byte> bytes = stackalloc byte[16];
        var ms = time.ToUnixTimeMilliseconds();
        for (var i = 0; i < 6; i++)
        {
            bytes[i] = (byte)(ms >> (8 * (5 - i)));
        }

        return new Guid(bytes, bigEndian: true);
    }
}

/// <summary>What one purge batch removed.</summary>
public readonly record struct PurgedRows(int Notifications, int Attempts, int WebhookDeliveries)
{
    public int Total => Notifications + Attempts + WebhookDeliveries;
}

public interface IRetentionStore
{
    /// <summary>The tenant's retention in days; null = the default (<see cref="RetentionPolicy.DefaultDays"/>).
    /// False in <c>Found</c> when there is no such tenant.</summary>
    Task<(bool Found, int? Days)> GetAsync(Guid tenantId, CancellationToken ct);

    /// <summary>Sets the tenant's retention (null: back to the default); false when there is no such tenant.</summary>
    Task<bool> SetAsync(Guid tenantId, int? days, CancellationToken ct);

    /// <summary>Every tenant with its retention setting (null = default).</summary>
    Task<IReadOnlyList<(Guid TenantId, int? Days)>> ListAsync(CancellationToken ct);

    /// <summary>
    /// Deletes up to <paramref name="batch"/> of the tenant's final notifications created before
    /// <paramref name="before"/> (those with an idempotency key only when created before <paramref name="keysBefore"/>)
    /// with their attempts and parts, and up to <paramref name="batch"/> of its finished webhook deliveries created
    /// before <paramref name="before"/>; one short transaction.
    /// </summary>
    Task<PurgedRows> PurgeAsync(Guid tenantId, DateTimeOffset before, DateTimeOffset keysBefore, int batch, CancellationToken ct);
}
