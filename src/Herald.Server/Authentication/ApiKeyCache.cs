using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Herald.Server.Authentication;

/// <summary>
/// The API-key look-ups of this node, remembered for <see cref="HeraldOptions.ApiKeyCacheDuration"/>: known keys and
/// unknown ones in two caches, each holding at most <see cref="HeraldOptions.ApiKeyCacheEntries"/> entries. Anyone can
/// present a made-up key, so a flood of random keys fills only the unknown-key cache (a full cache adds nothing and
/// compacts in the background) and never pushes a tenant's real key out.
/// </summary>
public sealed class ApiKeyCache : IDisposable
{
    private readonly MemoryCache _known;
    private readonly MemoryCache _unknown;
    private readonly TimeSpan _duration;

    public ApiKeyCache(IOptions<HeraldOptions> options)
    {
        var limit = options.Value.ApiKeyCacheEntries;
        _known = new MemoryCache(new MemoryCacheOptions { SizeLimit = limit });
        _unknown = new MemoryCache(new MemoryCacheOptions { SizeLimit = limit });
        _duration = options.Value.ApiKeyCacheDuration;
    }

    /// <summary>Entries held now, known and unknown keys together (what a test of the bound reads).</summary>
    public int Count => _known.Count + _unknown.Count;

    /// <summary>The key with SHA-256 <paramref name="hash"/>; null when it is unknown or revoked. Looks it up in
    /// <paramref name="tenants"/> unless this node did so within the cache duration.</summary>
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

        found = await tenants.FindApiKeyAsync(hash, ct);
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

    public void Dispose()
    {
        _known.Dispose();
        _unknown.Dispose();
    }
}
