using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Storage.Secrets;

/// <summary>One stored key of a tenant: <see cref="Version"/> 0 is the look-up key (for <see cref="ContactHash"/>; never
/// rotated, because every stored hash depends on it), 1 and up are data keys (the highest encrypts). <see cref="Wrapped"/>
/// is the key encrypted by the node key ring (<see cref="ISecretProtector"/>, context <c>tenant-key:{tenant}:{version}</c>).</summary>
public sealed record StoredTenantKey(int Version, string Wrapped);

/// <summary>Where tenants' wrapped keys live (table <c>tenant_keys</c>, both backends).</summary>
public interface ITenantKeyStore
{
    Task<IReadOnlyList<StoredTenantKey>> LoadAsync(Guid tenantId, CancellationToken ct);

    /// <summary>The synchronous twin of <see cref="LoadAsync"/>, on a connection of its own: rows are decrypted while a
    /// reader is open, and a tenant's keys are read once per process.</summary>
    IReadOnlyList<StoredTenantKey> Load(Guid tenantId);

    /// <summary>Stores keys whose (tenant, version) is free; a version another node stored first is kept (theirs wins).</summary>
    Task AddAsync(Guid tenantId, IReadOnlyList<StoredTenantKey> keys, DateTimeOffset now, CancellationToken ct);

    /// <summary>Every tenant that has keys, in id order, after <paramref name="after"/> (keyset paging).</summary>
    Task<IReadOnlyList<Guid>> TenantsAsync(Guid? after, int max, CancellationToken ct);

    /// <summary>Replaces a key's wrapping (same key, new node key): the key ring rotation.</summary>
    Task UpdateWrappedAsync(Guid tenantId, int version, string wrapped, CancellationToken ct);
}

/// <summary>A tenant's unwrapped keys, as cached in memory, with their cipher and MAC objects pooled: creating an
/// <see cref="AesGcm"/> or an HMAC per value made OpenSSL look its algorithm up, allocate a context and clear its error
/// queue each time, a fifth of the api's CPU on batch ingest (perf, 2026-12-07). The objects are not thread-safe; each
/// use rents one.</summary>
public sealed class TenantKeySet(Guid tenantId, byte[] lookupKey, IReadOnlyDictionary<int, byte[]> dataKeys, long loadedAt)
{
    private const int TagSize = 16;
    private readonly ConcurrentDictionary<int, ObjectPool<AesGcm>> _ciphers = new();
    private readonly ObjectPool<IncrementalHash> _macs = new(() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, lookupKey));

    public Guid TenantId { get; } = tenantId;

    /// <summary>The HMAC key of <see cref="ContactHash"/>.</summary>
    public byte[] LookupKey { get; } = lookupKey;

    /// <summary>The data key version that encrypts new values (the highest).</summary>
    public int CurrentVersion { get; } = dataKeys.Keys.Max();

    public IReadOnlyDictionary<int, byte[]> DataKeys { get; } = dataKeys;

    /// <summary>When it was read from the store (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    internal long LoadedAt { get; } = loadedAt;

    /// <summary>AES-256-GCM encryption with data key <paramref name="version"/>.</summary>
    internal void Encrypt(int version, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        var pool = Ciphers(version);
        var aes = pool.Rent();
        try
        {
            aes.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
        }
        finally
        {
            pool.Return(aes);
        }
    }

    /// <summary>AES-256-GCM decryption with data key <paramref name="version"/>.</summary>
    /// <exception cref="AuthenticationTagMismatchException">An altered value, or another row's.</exception>
    internal void Decrypt(int version, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        var pool = Ciphers(version);
        var aes = pool.Rent();
        try
        {
            aes.Decrypt(nonce, ciphertext, tag, plaintext, associatedData);
        }
        finally
        {
            pool.Return(aes);
        }
    }

    /// <summary>HMAC-SHA256 of <paramref name="input"/> with the look-up key, into <paramref name="mac"/> (32 bytes).</summary>
    internal void Mac(ReadOnlySpan<byte> input, Span<byte> mac)
    {
        var hmac = _macs.Rent();
        try
        {
            hmac.AppendData(input);
            hmac.GetHashAndReset(mac);
        }
        finally
        {
            _macs.Return(hmac);
        }
    }

    private ObjectPool<AesGcm> Ciphers(int version) =>
        _ciphers.GetOrAdd(version, static (v, keys) => new ObjectPool<AesGcm>(() => new AesGcm(keys[v], TagSize)), DataKeys);

    /// <summary>A few reusable objects: a rent finds one the same thread returned (<see cref="ConcurrentBag{T}"/> keeps
    /// a list per thread) or makes one; past <see cref="Kept"/> idle ones, a returned object is dropped.</summary>
    private sealed class ObjectPool<T>(Func<T> create)
        where T : class, IDisposable
    {
        private const int Kept = 32;
        private readonly ConcurrentBag<T> _idle = [];

        public T Rent() => _idle.TryTake(out var item) ? item : create();

        public void Return(T item)
        {
            if (_idle.Count < Kept)
            {
                _idle.Add(item);
            }
            else
            {
                item.Dispose();
            }
        }
    }
}

/// <summary>
/// Per-tenant envelope encryption of customer data at rest (issue #17): each tenant has random 256-bit data keys and a
/// look-up key, stored wrapped by the node key ring and cached unwrapped per process. <see cref="Seal"/> encrypts with
/// AES-256-GCM under the tenant's current data key; the authenticated data binds the value to its purpose, tenant and row,
/// so a value copied into another row (or another tenant's) does not decrypt. Envelope (binary, 33 bytes of overhead):
/// <c>0x01 | data key version (int32, big-endian) | nonce (12) | ciphertext | tag (16)</c>.
/// </summary>
public sealed class TenantKeys(ITenantKeyStore store, ISecretProtector protector, TimeProvider time)
{
    private const byte Format = 1;
    private const int HeaderSize = 1 + 4;
    private const int NonceSize = 12;
    private const int TagSize = 16;

    /// <summary>A node that did not rotate a tenant's key itself learns of the new version this late at most (it reads
    /// new versions at once when a row names one; only its choice of the key that encrypts may lag).</summary>
    private static readonly TimeSpan Refresh = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<Guid, TenantKeySet> _cache = new();

    /// <summary>The envelope's fixed overhead in bytes.</summary>
    public const int Overhead = HeaderSize + NonceSize + TagSize;

    /// <summary>The tenant's keys for writing (and for look-up hashes), created on first use.</summary>
    public async ValueTask<TenantKeySet> ForWriteAsync(Guid tenantId, CancellationToken ct)
    {
        if (_cache.TryGetValue(tenantId, out var cached) && time.GetElapsedTime(cached.LoadedAt) < Refresh)
        {
            return cached;
        }

        var stored = await store.LoadAsync(tenantId, ct).ConfigureAwait(false);
        if (!stored.Any(k => k.Version == 0) || !stored.Any(k => k.Version > 0))
        {
            // Both at once, so a tenant never has one without the other; a concurrent creator's keys win (ON CONFLICT).
            await store.AddAsync(tenantId, [NewKey(tenantId, 0), NewKey(tenantId, 1)], time.GetUtcNow(), ct).ConfigureAwait(false);
            stored = await store.LoadAsync(tenantId, ct).ConfigureAwait(false);
        }

        return Cache(tenantId, stored);
    }

    /// <summary>The tenant's keys for reading a value sealed with data key <paramref name="version"/> (synchronous: rows
    /// are opened while their reader is open).</summary>
    /// <exception cref="CryptographicException">The tenant has no such key.</exception>
    public TenantKeySet ForRead(Guid tenantId, int version)
    {
        if (_cache.TryGetValue(tenantId, out var cached) && cached.DataKeys.ContainsKey(version))
        {
            return cached;
        }

        var keys = Cache(tenantId, store.Load(tenantId));
        return keys.DataKeys.ContainsKey(version)
            ? keys
            : throw new CryptographicException($"Tenant {tenantId} has no data key version {version}.");
    }

    /// <summary>Adds a new data key version that encrypts from now on; older versions stay for reading until the
    /// re-encryption has moved every row (<c>herald reencrypt</c>). Answers the new version.</summary>
    public async Task<int> RotateAsync(Guid tenantId, CancellationToken ct)
    {
        var current = await ForWriteAsync(tenantId, ct).ConfigureAwait(false);
        var next = current.DataKeys.Keys.Max() + 1;
        await store.AddAsync(tenantId, [NewKey(tenantId, next)], time.GetUtcNow(), ct).ConfigureAwait(false);
        _cache.TryRemove(tenantId, out _);
        return (await ForWriteAsync(tenantId, ct).ConfigureAwait(false)).CurrentVersion;
    }

    /// <summary>Re-wraps every tenant key with the node key ring's current key (after <c>Herald:Secrets:Key</c> changed and
    /// the old one moved to <c>PreviousKeys</c>); the keys themselves, and so every stored row, stay. Answers how many.</summary>
    public async Task<int> RewrapAllAsync(CancellationToken ct)
    {
        var count = 0;
        Guid? after = null;
        while (true)
        {
            var tenants = await store.TenantsAsync(after, 500, ct).ConfigureAwait(false);
            if (tenants.Count == 0)
            {
                return count;
            }

            foreach (var tenantId in tenants)
            {
                foreach (var key in await store.LoadAsync(tenantId, ct).ConfigureAwait(false))
                {
                    var context = Context(tenantId, key.Version);
                    var rewrapped = protector.Protect(protector.Unprotect(key.Wrapped, context), context);
                    await store.UpdateWrappedAsync(tenantId, key.Version, rewrapped, ct).ConfigureAwait(false);
                    count++;
                }
            }

            after = tenants[^1];
        }
    }

    /// <summary>Encrypts <paramref name="plaintext"/> for <paramref name="row"/> (e.g. the row's id) of
    /// <paramref name="purpose"/> (e.g. "notification") with the tenant's current data key.</summary>
    public static byte[] Seal(TenantKeySet keys, string purpose, string row, ReadOnlySpan<byte> plaintext)
    {
        var version = keys.CurrentVersion;
        var sealedBytes = new byte[Overhead + plaintext.Length];
        sealedBytes[0] = Format;
        BinaryPrimitives.WriteInt32BigEndian(sealedBytes.AsSpan(1, 4), version);
        var nonce = sealedBytes.AsSpan(HeaderSize, NonceSize);
        Nonce(nonce);
        Span<byte> associated = stackalloc byte[MaxAssociatedData];
        keys.Encrypt(version, nonce, plaintext, sealedBytes.AsSpan(HeaderSize + NonceSize, plaintext.Length), sealedBytes.AsSpan(HeaderSize + NonceSize + plaintext.Length),
            AssociatedData(keys.TenantId, purpose, row, associated));
        return sealedBytes;
    }

    /// <summary>Decrypts what <see cref="Seal"/> produced for the same tenant, purpose and row.</summary>
    /// <exception cref="CryptographicException">Another row's value, an unknown key version, or an altered value.</exception>
    public byte[] Open(Guid tenantId, string purpose, string row, ReadOnlySpan<byte> sealedBytes)
    {
        var version = VersionOf(sealedBytes);
        var keys = ForRead(tenantId, version);
        var length = sealedBytes.Length - Overhead;
        var plain = new byte[length];
        Span<byte> associated = stackalloc byte[MaxAssociatedData];
        keys.Decrypt(version, sealedBytes.Slice(HeaderSize, NonceSize), sealedBytes.Slice(HeaderSize + NonceSize, length), sealedBytes[(HeaderSize + NonceSize + length)..], plain,
            AssociatedData(tenantId, purpose, row, associated));
        return plain;
    }

    /// <summary>Encrypts a text (see <see cref="Seal"/>).</summary>
    public static byte[] SealText(TenantKeySet keys, string purpose, string row, string plaintext) =>
        Seal(keys, purpose, row, Encoding.UTF8.GetBytes(plaintext));

    /// <summary>Decrypts a text (see <see cref="Open"/>).</summary>
    public string OpenText(Guid tenantId, string purpose, string row, ReadOnlySpan<byte> sealedBytes) =>
        Encoding.UTF8.GetString(Open(tenantId, purpose, row, sealedBytes));

    /// <summary>The data key version a sealed value names (for re-encryption: values below the current version move).</summary>
    /// <exception cref="CryptographicException">Not an envelope of this format.</exception>
    public static int VersionOf(ReadOnlySpan<byte> sealedBytes) =>
        sealedBytes.Length >= Overhead && sealedBytes[0] == Format
            ? BinaryPrimitives.ReadInt32BigEndian(sealedBytes.Slice(1, 4))
            : throw new CryptographicException("The stored value is not a sealed value.");

    /// <summary>Purposes and rows are short names and ids; a longer one is a programming error, refused loudly.</summary>
    private const int MaxAssociatedData = 256;

    /// <summary><c>purpose \n tenant (N) \n row</c>, UTF-8, written into <paramref name="buffer"/>.</summary>
    private static ReadOnlySpan<byte> AssociatedData(Guid tenantId, string purpose, string row, Span<byte> buffer)
    {
        var length = Encoding.UTF8.GetBytes(purpose, buffer);
        buffer[length++] = (byte)'\n';
        tenantId.TryFormat(buffer[length..], out var written, "N");
        length += written;
        buffer[length++] = (byte)'\n';
        length += Encoding.UTF8.GetBytes(row, buffer[length..]);
        return buffer[..length];
    }

    [ThreadStatic]
    private static byte[]? t_nonces;

    [ThreadStatic]
    private static int t_noncesUsed;

    /// <summary>A random 96-bit GCM nonce, cut from a per-thread block of CSPRNG bytes (each byte used once) that is
    /// refilled every 341 nonces: one OpenSSL call per nonce was a measurable share of batch ingest.</summary>
    private static void Nonce(Span<byte> nonce)
    {
        var block = t_nonces ??= new byte[NonceSize * 341];
        if (t_noncesUsed == 0 || t_noncesUsed + nonce.Length > block.Length)
        {
            RandomNumberGenerator.Fill(block);
            t_noncesUsed = 0;
        }

        var taken = block.AsSpan(t_noncesUsed, nonce.Length);
        taken.CopyTo(nonce);
        taken.Clear();
        t_noncesUsed += nonce.Length;
    }

    private static string Context(Guid tenantId, int version) => $"tenant-key:{tenantId:N}:{version}";

    private StoredTenantKey NewKey(Guid tenantId, int version) =>
        new(version, protector.Protect(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), Context(tenantId, version)));

    private TenantKeySet Cache(Guid tenantId, IReadOnlyList<StoredTenantKey> stored)
    {
        byte[]? lookup = null;
        var data = new Dictionary<int, byte[]>();
        foreach (var key in stored)
        {
            var unwrapped = Convert.FromBase64String(protector.Unprotect(key.Wrapped, Context(tenantId, key.Version)));
            if (key.Version == 0)
            {
                lookup = unwrapped;
            }
            else
            {
                data[key.Version] = unwrapped;
            }
        }

        if (lookup is null || data.Count == 0)
        {
            throw new CryptographicException($"Tenant {tenantId} has no keys yet.");
        }

        var keys = new TenantKeySet(tenantId, lookup, data, time.GetTimestamp());
        _cache[tenantId] = keys;
        return keys;
    }
}
