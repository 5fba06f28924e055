using System.Globalization;
using Herald.Server.Changes;

namespace Herald.Server.Rules;

/// <summary>
/// Tells every node that a tenant's rule set changed, over the node's <see cref="ChangeFanout"/> (Redis pub/sub and
/// PostgreSQL LISTEN/NOTIFY, either alone suffices) as kind <c>rules</c> with the new version as the key. Receivers load
/// that version from the store (the message carries no rules), so a duplicate or stale message is harmless and a lost
/// one is caught by <see cref="RuleSetCache"/>'s safety poll.
/// </summary>
public sealed class RuleChangeFanout(ChangeFanout fanout)
{
    /// <summary>Completes once LISTEN is in place (never without PostgreSQL): tests wait on it before changing rules.</summary>
    public Task PostgresListening => fanout.PostgresListening;

    /// <summary>Completes once subscribed on Redis (never without Redis).</summary>
    public Task RedisSubscribed => fanout.RedisSubscribed;

    /// <summary>Announces a stored change. Best effort on each path: the change is committed already, and the poll
    /// converges a node that hears neither.</summary>
    public Task PublishAsync(Guid tenantId, long version, CancellationToken ct) =>
        fanout.PublishAsync(ChangeKinds.Rules, tenantId, version.ToString(CultureInfo.InvariantCulture), ct);
}

/// <summary>Applies announced rule changes to this node's <see cref="RuleSetCache"/>.</summary>
public sealed class RuleChangeSubscriber(RuleSetCache cache) : IChangeSubscriber
{
    public string Kind => ChangeKinds.Rules;

    public Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct) =>
        long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? cache.OnChangedAsync(tenantId, version, via, ct)
            : Task.CompletedTask;

    public Task OnMessagesLostAsync(CancellationToken ct) => cache.SyncAsync(ct);
}
