using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Herald.Server.Authentication;

/// <summary>
/// The API-key look-ups of this node, remembered for <see cref="HeraldOptions.ApiKeyCacheDuration"/>: known keys and
/// unknown ones in two caches, each holding at most <see cref="HeraldOptions.ApiKeyCacheEntries"/> entries. Anyone can
/// present a made-up key, so a flood of random keys fills only the unknown-key cache (a full cache adds nothing and
/// compacts in the background) and never pushes a tenant's real key out. A revoked key leaves every node's cache when
/// the revocation is announced (<see cref="ApiKeyCacheSubscriber"/>); the duration is only the safety net.
/// </summary>
public sealed class ApiKeyCache : IDisposable
{
    private readonly MemoryCache _known;
    private readonly MemoryCache _unknown;
    private readonly TimeSpan _duration;

    // Bumped by every Forget and Clear: a look-up that began before one does not cache what it read, since the store
    // may have answered just before the revocation committed.
    private long _generation;

    public ApiKeyCache(IOptions<HeraldOptions> options)
    {
        var limit = options.Value.ApiKeyCacheEntries;
        _known = new MemoryCache(new MemoryCacheOptions { SizeLimit = limit });
        _unknown = new MemoryCache(new MemoryCacheOptions { SizeLimit = limit });
        _duration = options.Value.ApiKeyCacheDuration;
    }

    /// <summary>Entries held now, known and unknown keys together (what a test of the bound reads).</summary>
    public int Count => _known.Count + _unknown.Count;

    /// <summary>Whether this node holds the key <paramref name="keyId"/> (what a propagation test reads).</summary>
    public bool Holds(Guid keyId) => _known.Keys.Any(k => _known.TryGetValue(k, out ApiKey? key) && key?.Id == keyId);

    /// <summary>Which path brought the last change that made this node forget a key (for tests and the figures).</summary>
    public string? LastForgottenVia { get; private set; }

    /// <summary>The key with SHA-256 <paramref name="hash"/>; null when it is unknown or revoked. Looks it up in
    /// <paramref name="tenants"/> unless this node did so within the cache duration. An expired key is returned: the
    /// caller checks <see cref="ApiKey.ExpiredAt"/> on each request.</summary>
    public async ValueTask<ApiKey?> FindAsync(byte[] hash, ITenantStore tenants, CancellationToken ct)
    {
        var key = Convert.ToHexString(hash);
        if (_known.TryGetValue(key, out ApiKey? found))
        {
            return found;
        }

        if (_unknown.TryGetValue(key, out _))
        {
            return null;
        }

        var generation = Interlocked.Read(ref _generation);
        found = await tenants.FindApiKeyAsync(hash, ct);
        if (Interlocked.Read(ref _generation) != generation)
        {
            return found;
        }

        var entry = new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = _duration > TimeSpan.Zero ? _duration : TimeSpan.FromTicks(1) };
        if (found is null)
        {
            _unknown.Set(key, true, entry);
        }
        else
        {
            _known.Set(key, found, entry);
        }

        return found;
    }

    /// <summary>Drops the key <paramref name="keyId"/> (revoked; a creation is announced too, and dropping nothing then
    /// is harmless). Scans the known keys, at most the configured entries: revocations are rare.</summary>
    public void Forget(Guid keyId, string via)
    {
        Interlocked.Increment(ref _generation);
        foreach (var entry in _known.Keys)
        {
            if (_known.TryGetValue(entry, out ApiKey? key) && key?.Id == keyId)
            {
                _known.Remove(entry);
            }
        }

        LastForgottenVia = via;
    }

    /// <summary>Forgets everything (announcements may have been lost).</summary>
    public void Clear()
    {
        Interlocked.Increment(ref _generation);
        _known.Clear();
        _unknown.Clear();
    }

    public void Dispose()
    {
        _known.Dispose();
        _unknown.Dispose();
    }
}

/// <summary>An API key was created or revoked (on this node or another): forget this node's copy, so a revoked key is
/// refused here as soon as the announcement arrives (PostgreSQL LISTEN/NOTIFY, Redis, or this node's own store).</summary>
public sealed class ApiKeyCacheSubscriber(ApiKeyCache cache) : IChangeSubscriber
{
    public string Kind => ChangeKinds.ApiKeys;

    public Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct)
    {
        if (Guid.TryParseExact(key, "D", out var keyId))
        {
            cache.Forget(keyId, via);
        }

        return Task.CompletedTask;
    }

    public Task OnMessagesLostAsync(CancellationToken ct)
    {
        cache.Clear();
        return Task.CompletedTask;
    }
}
