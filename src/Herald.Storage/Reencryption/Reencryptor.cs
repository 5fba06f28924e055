using Herald.Storage.Secrets;

namespace Herald.Storage;

/// <summary>What one <see cref="Reencryptor.RunAsync"/> did, per table: rows looked at and rows rewritten.</summary>
public sealed record ReencryptionReport(int KeysRewrapped, IReadOnlyList<int> RotatedTo, IReadOnlyDictionary<ReencryptionTable, (long Scanned, long Rewritten)> Tables);

/// <summary>
/// The <c>herald reencrypt</c> run (issue #17, docs/OPERATIONS.md "Key rotation and re-encryption"): re-wraps every
/// tenant key with the node key ring's current key, optionally rotates tenants' data keys, then walks every sealed table
/// in batches (<see cref="IReencryptionStore"/>) until each pass is complete. Stopped and started again, it resumes.
/// </summary>
public sealed class Reencryptor(IReencryptionStore store, TenantKeys keys, ITenantStore tenants)
{
    /// <param name="rotate">Tenants whose data key gets a new version first; null rotates none; empty rotates every tenant.</param>
    /// <param name="progress">Called after every batch (table, rows looked at so far, rows rewritten so far).</param>
    public async Task<ReencryptionReport> RunAsync(IReadOnlyCollection<Guid>? rotate, int batch, Action<ReencryptionTable, long, long>? progress, CancellationToken ct)
    {
        var rewrapped = await keys.RewrapAllAsync(ct).ConfigureAwait(false);
        var rotated = new List<int>();
        if (rotate is not null)
        {
            var targets = rotate.Count > 0 ? rotate : [.. (await tenants.ListTenantsAsync(ct).ConfigureAwait(false)).Select(t => t.Id)];
            foreach (var tenantId in targets)
            {
                rotated.Add(await keys.RotateAsync(tenantId, ct).ConfigureAwait(false));
            }

            // Every row must be looked at again under the new versions.
            await store.ResetAsync(ct).ConfigureAwait(false);
        }

        var tables = new Dictionary<ReencryptionTable, (long, long)>();
        foreach (var table in Enum.GetValues<ReencryptionTable>())
        {
            long scanned = 0, rewritten = 0;
            while (true)
            {
                var result = await store.RunBatchAsync(table, batch, ct).ConfigureAwait(false);
                scanned += result.Scanned;
                rewritten += result.Rewritten;
                progress?.Invoke(table, scanned, rewritten);
                if (result.Done)
                {
                    break;
                }
            }

            tables[table] = (scanned, rewritten);
        }

        return new ReencryptionReport(rewrapped, rotated, tables);
    }
}
