using System.Globalization;
using Herald.Storage;

namespace Herald.Server.Rules;

/// <summary>Applies announced rule changes (this node's own store writes, and other nodes' over Redis and
/// PostgreSQL) to this node's <see cref="RuleSetCache"/>. The key is the new version, which the cache loads from the
/// store, so a duplicate or stale message is harmless and a lost one is caught by the cache's safety poll.</summary>
public sealed class RuleChangeSubscriber(RuleSetCache cache) : IChangeSubscriber
{
    public string Kind => ChangeKinds.Rules;

    public Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct) =>
        long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? cache.OnChangedAsync(tenantId, version, via, ct)
            : Task.CompletedTask;

    public Task OnMessagesLostAsync(CancellationToken ct) => cache.SyncAsync(ct);
}
