using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Herald.Core.Customers;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Customers;

/// <summary>Settings under <c>Herald:Customers</c> (docs/CONFIGURATION.md).</summary>
public sealed class CustomersOptions
{
    public const string Section = "Herald:Customers";

    /// <summary>How long a node keeps a looked-up customer (or the fact that there is none). A change made through
    /// this node is seen at once; other nodes drop their entry when the change is announced (Redis or PostgreSQL
    /// LISTEN/NOTIFY, within about a second), so this is only the safety net for a node that missed both.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most customers (found or not) a node keeps cached.</summary>
    [Range(1, 10_000_000)]
    public int CacheSize { get; set; } = 100_000;

    /// <summary>Notification types that ignore the customer's opt-outs when no rule of the tenant decides (a rule's
    /// <c>then.optOuts</c>, per tenant, wins). Node-wide fallback, empty by default: every opt-out is honoured.</summary>
    public List<string> OptOutExemptTypes { get; set; } = [];
}

/// <summary>
/// Per-node cache of stored customers for the ingest path and the delivery worker: bounded, short-lived, and cleared
/// on every change, on this node at once and on the others when the change is announced over the
/// <see cref="Storage.IChangeFeed"/> (kind <c>customer</c>, key the customer id); the TTL is the safety net for a node that
/// hears neither path. Unknown ids are cached too, so notifications that name an unstored customer with inline
/// contacts cost no store read each. Lookups of many ids read the store once.
/// </summary>
public sealed class CustomerCache(ICustomerStore store, TimeProvider time, IOptions<CustomersOptions> options) : IChangeSubscriber
{
    // Generations per stripe of keys: a read that started before an invalidation of its stripe does not cache what it
    // read, since that may be the value from before the change (the store answered slower than the announcement).
    private const int Stripes = 256;
    private readonly long[] _generations = new long[Stripes];
    private readonly ConcurrentDictionary<(Guid Tenant, string Id), Entry> _entries = new();
    private readonly TimeSpan _ttl = options.Value.CacheTtl;
    private readonly int _size = options.Value.CacheSize;

    public async ValueTask<Customer?> GetAsync(Guid tenantId, string customerId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue((tenantId, customerId), out var entry) && entry.Expires > now)
        {
            return entry.Customer;
        }

        var generation = Generation(tenantId, customerId);
        var customer = await store.GetAsync(tenantId, customerId, ct);
        Put(tenantId, customerId, customer, now, generation);
        return customer;
    }

    /// <summary>The stored customer each notification names (null where it names none or an unknown one): the load
    /// step of ingest and of delivery, one store read per tenant for all cache misses.</summary>
    public ValueTask<Customer?[]> ForAsync(IReadOnlyList<(Guid Tenant, string? Id)> named, CancellationToken ct)
    {
        var keys = new (Guid Tenant, string Id)?[named.Count];
        var any = false;
        for (var i = 0; i < keys.Length; i++)
        {
            if (named[i].Id is { } id)
            {
                keys[i] = (named[i].Tenant, id);
                any = true;
            }
        }

        return any ? GetManyAsync(keys, ct) : ValueTask.FromResult(new Customer?[keys.Length]);
    }

    /// <summary>The customers named by <paramref name="keys"/> (null where unknown), with one store read per tenant
    /// for all cache misses.</summary>
    public async ValueTask<Customer?[]> GetManyAsync(IReadOnlyList<(Guid Tenant, string Id)?> keys, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var result = new Customer?[keys.Count];
        Dictionary<Guid, HashSet<string>>? misses = null;
        for (var i = 0; i < keys.Count; i++)
        {
            if (keys[i] is not { } key)
            {
                continue;
            }

            if (_entries.TryGetValue(key, out var entry) && entry.Expires > now)
            {
                result[i] = entry.Customer;
            }
            else
            {
                misses ??= [];
                if (!misses.TryGetValue(key.Tenant, out var ids))
                {
                    misses[key.Tenant] = ids = new HashSet<string>(StringComparer.Ordinal);
                }

                ids.Add(key.Id);
            }
        }

        if (misses is null)
        {
            return result;
        }

        var found = new Dictionary<(Guid, string), Customer>();
        foreach (var (tenant, ids) in misses)
        {
            var generations = ids.ToDictionary(id => id, id => Generation(tenant, id), StringComparer.Ordinal);
            foreach (var customer in await store.GetManyAsync(tenant, ids, ct))
            {
                found[(tenant, customer.Id)] = customer;
            }

            foreach (var id in ids)
            {
                Put(tenant, id, found.GetValueOrDefault((tenant, id)), now, generations[id]);
            }
        }

        for (var i = 0; i < keys.Count; i++)
        {
            if (keys[i] is { } key && result[i] is null)
            {
                result[i] = found.GetValueOrDefault(key);
            }
        }

        return result;
    }

    /// <summary>Forgets one customer on this node (after a change through the API, or announced by another node).</summary>
    public void Invalidate(Guid tenantId, string customerId)
    {
        Interlocked.Increment(ref _generations[Stripe(tenantId, customerId)]);
        _entries.TryRemove((tenantId, customerId), out _);
    }

    /// <summary>Forgets every customer on this node (announcements may have been lost).</summary>
    public void Clear()
    {
        for (var i = 0; i < Stripes; i++)
        {
            Interlocked.Increment(ref _generations[i]);
        }

        _entries.Clear();
    }

    /// <summary>Whether this node holds <paramref name="customerId"/> (found or not) in its cache now; for tests.</summary>
    public bool Holds(Guid tenantId, string customerId) =>
        _entries.TryGetValue((tenantId, customerId), out var entry) && entry.Expires > time.GetUtcNow();

    /// <summary>The path ("redis" or "postgres") of the last announcement that dropped an entry held by this node.</summary>
    public string? LastInvalidatedVia { get; private set; }

    string IChangeSubscriber.Kind => ChangeKinds.Customer;

    Task IChangeSubscriber.OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct)
    {
        var held = _entries.ContainsKey((tenantId, key));
        Invalidate(tenantId, key);
        if (held)
        {
            LastInvalidatedVia = via;
        }

        return Task.CompletedTask;
    }

    Task IChangeSubscriber.OnMessagesLostAsync(CancellationToken ct)
    {
        Clear();
        return Task.CompletedTask;
    }

    private static int Stripe(Guid tenantId, string customerId) =>
        (int)((uint)HashCode.Combine(tenantId, StringComparer.Ordinal.GetHashCode(customerId)) % Stripes);

    private long Generation(Guid tenantId, string customerId) => Volatile.Read(ref _generations[Stripe(tenantId, customerId)]);

    private void Put(Guid tenantId, string customerId, Customer? customer, DateTimeOffset now, long generation)
    {
        if (_ttl <= TimeSpan.Zero || Generation(tenantId, customerId) != generation)
        {
            return;
        }

        if (_entries.Count >= _size)
        {
            Evict(now);
        }

        _entries[(tenantId, customerId)] = new Entry(customer, now + _ttl);
        if (Generation(tenantId, customerId) != generation)
        {
            // Invalidated between the check and the write: what was read may be from before the change.
            _entries.TryRemove((tenantId, customerId), out _);
        }
    }

    private void Evict(DateTimeOffset now)
    {
        foreach (var (key, entry) in _entries)
        {
            if (entry.Expires <= now)
            {
                _entries.TryRemove(key, out _);
            }
        }

        // Still full of live entries: drop everything rather than track recency on the hot path; the next
        // lookups refill it from the store.
        if (_entries.Count >= _size)
        {
            _entries.Clear();
        }
    }

    private sealed record Entry(Customer? Customer, DateTimeOffset Expires);
}
