using System.Collections.Concurrent;
using Herald.Core.Customers;
using Herald.Storage;

namespace Herald.Server.Consents;

/// <summary>
/// Each tenant's current opt-outs from its consent ledger, held in memory on every node for the ingest path (issue #16):
/// a tenant's view is read from the store once, then kept until its ledger changes. A change is announced over the
/// <see cref="IChangeFeed"/> (kind <c>consents</c>) by the store that appended it, in its own transaction; every node
/// drops the tenant's view when it hears it (this node at once, the others over PostgreSQL LISTEN/NOTIFY or Redis), and
/// the next notification of that tenant reloads it. So ingest pays no query per notification, only one per tenant per
/// ledger change; a node that may have missed announcements drops every view.
/// </summary>
public sealed class ConsentCache(IConsentStore store) : IChangeSubscriber
{
    // Generation per tenant: a load that started before a change does not keep what it read (the store may have answered
    // with the ledger from before the change).
    private readonly ConcurrentDictionary<Guid, ConsentOptOuts> _views = new();
    private readonly ConcurrentDictionary<Guid, long> _generations = new();

    /// <summary>The tenant's current opt-outs.</summary>
    public async ValueTask<ConsentOptOuts> ForAsync(Guid tenantId, CancellationToken ct)
    {
        if (_views.TryGetValue(tenantId, out var view))
        {
            return view;
        }

        var generation = _generations.GetOrAdd(tenantId, 0);
        view = ConsentOptOuts.From(await store.LatestAsync(tenantId, ct));
        if (_generations.GetValueOrDefault(tenantId) == generation)
        {
            _views[tenantId] = view;
            if (_generations.GetValueOrDefault(tenantId) != generation)
            {
                // Changed between the check and the write.
                _views.TryRemove(tenantId, out _);
            }
        }

        return view;
    }

    /// <summary>The views of the tenants of a batch, one load per tenant not held.</summary>
    public async ValueTask<Dictionary<Guid, ConsentOptOuts>> ForAsync(IEnumerable<Guid> tenantIds, CancellationToken ct)
    {
        var views = new Dictionary<Guid, ConsentOptOuts>();
        foreach (var tenant in tenantIds)
        {
            if (!views.ContainsKey(tenant))
            {
                views[tenant] = await ForAsync(tenant, ct);
            }
        }

        return views;
    }

    /// <summary>Forgets a tenant's view on this node.</summary>
    public void Invalidate(Guid tenantId)
    {
        _generations.AddOrUpdate(tenantId, 1, static (_, g) => g + 1);
        _views.TryRemove(tenantId, out _);
    }

    /// <summary>Whether this node holds the tenant's view now; for tests.</summary>
    public bool Holds(Guid tenantId) => _views.ContainsKey(tenantId);

    string IChangeSubscriber.Kind => ChangeKinds.Consents;

    Task IChangeSubscriber.OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct)
    {
        Invalidate(tenantId);
        return Task.CompletedTask;
    }

    Task IChangeSubscriber.OnMessagesLostAsync(CancellationToken ct)
    {
        foreach (var tenant in _views.Keys)
        {
            Invalidate(tenant);
        }

        return Task.CompletedTask;
    }
}
