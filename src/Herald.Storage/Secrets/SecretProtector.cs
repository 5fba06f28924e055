using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Storage.Secrets;

/// <summary>
/// Encrypts secrets at rest (provider credentials, source signing secrets, webhook secrets). Stores call it on
/// write and read; nothing else ever sees the ciphertext. The <c>context</c> is authenticated with the ciphertext
/// (e.g. "provider:{id}"), so a value copied to another row does not decrypt.
/// </summary>
public interface ISecretProtector
{
    string Protect(string plaintext, string context);

    /// <exception cref="CryptographicException">The value was not produced by <see cref="Protect"/> with a known key
    /// and the same context, or was altered.</exception>
    string Unprotect(string protectedValue, string context);

    /// <summary>Whether the value has this protector's envelope (e.g. to migrate plaintext rows).</summary>
    bool IsProtected(string value);
}

/// <summary>
/// AES-256-GCM with a 96-bit random nonce. Envelope: <c>enc:v1:{keyId}:{base64(nonce | ciphertext | tag)}</c>, where
/// keyId names the key (first 4 bytes of its SHA-256, hex), so keys rotate: the first key encrypts, every key
/// decrypts values that name it.
/// </summary>
public sealed class AesGcmSecretProtector : ISecretProtector
{
    private const string Prefix = "enc:v1:";
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly (string Id, byte[] Key)[] _keys;

    /// <param name="keys">32-byte keys, the current one first.</param>
    public AesGcmSecretProtector(IReadOnlyList<byte[]> keys)
    {
        if (keys.Count == 0)
        {
            throw new ArgumentException("At least one key is needed.", nameof(keys));
        }

        _keys = [.. keys.Select(k => k.Length == 32
            ? (Convert.ToHexStringLower(SHA256.HashData(k).AsSpan(0, 4)), k)
            : throw new ArgumentException($"A secrets key must be 32 bytes (base64 of 32 random bytes), not {k.Length}.", nameof(keys)))];
    }

    public string Protect(string plaintext, string context)
    {
        var (id, key) = _keys[0];
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var sealedBytes = new byte[NonceSize + plain.Length + TagSize];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceSize, plain.Length), sealedBytes.AsSpan(NonceSize + plain.Length), Encoding.UTF8.GetBytes(context));
        return $"{Prefix}{id}:{Convert.ToBase64String(sealedBytes)}";
    }

    public string Unprotect(string protectedValue, string context)
    {
        if (!IsProtected(protectedValue))
        {
            throw new CryptographicException("The value is not an encrypted secret.");
        }

        var rest = protectedValue.AsSpan(Prefix.Length);
        var colon = rest.IndexOf(':');
        if (colon < 0)
        {
            throw new CryptographicException("The encrypted secret is malformed.");
        }

        var keyId = rest[..colon].ToString();
        var key = _keys.FirstOrDefault(k => k.Id == keyId).Key
            ?? throw new CryptographicException($"The secret was encrypted with key {keyId}, which is not configured (Herald:Secrets:Key / PreviousKeys).");
        byte[] sealedBytes;
        try
        {
            sealedBytes = Convert.FromBase64String(rest[(colon + 1)..].ToString());
        }
        catch (FormatException e)
        {
            throw new CryptographicException("The encrypted secret is malformed.", e);
        }

        if (sealedBytes.Length < NonceSize + TagSize)
        {
            throw new CryptographicException("The encrypted secret is malformed.");
        }

        var length = sealedBytes.Length - NonceSize - TagSize;
        var plain = new byte[length];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize, length), sealedBytes.AsSpan(NonceSize + length), plain, Encoding.UTF8.GetBytes(context));
        return Encoding.UTF8.GetString(plain);
    }

    public bool IsProtected(string value) => value.StartsWith(Prefix, StringComparison.Ordinal);
}

/// <summary>A secrets key that is missing or unusable: the host turns it into a one-line start-up error.</summary>
public sealed class SecretsConfigurationException(string message) : Exception(message);

public static class SecretsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ISecretProtector"/> from <c>Herald:Secrets:Key</c> (base64 of 32 bytes; every node of a
    /// cluster needs the same) and <c>Herald:Secrets:PreviousKeys</c> (keys still accepted for reading). Without a
    /// key, the embedded (SQLite) mode keeps a generated key in <c>Herald:Secrets:KeyFile</c> (default: the file
    /// <c>secret-key</c> next to the SQLite database); the PostgreSQL mode refuses to start, because nodes must share the key.
    /// </summary>
    public static IServiceCollection AddHeraldSecrets(this IServiceCollection services, IConfiguration configuration) =>
        services.AddSingleton<ISecretProtector>(_ => new AesGcmSecretProtector(LoadKeys(configuration)));

    private static List<byte[]> LoadKeys(IConfiguration configuration)
    {
        var section = configuration.GetSection("Herald:Secrets");
        var keys = new List<byte[]>();
        if (section["Key"] is { Length: > 0 } current)
        {
            keys.Add(Decode(current, "Herald:Secrets:Key"));
        }
        else
        {
            var postgres = string.Equals(configuration["Herald:Storage"], "postgres", StringComparison.OrdinalIgnoreCase);
            if (postgres)
            {
                throw new SecretsConfigurationException(
                    "Herald:Secrets:Key is not set. With PostgreSQL every node needs the same key to read stored credentials: "
                    + "generate one with 'openssl rand -base64 32' and pass it as Herald__Secrets__Key (a Docker secret in production).");
            }

            keys.Add(LoadOrCreateKeyFile(section["KeyFile"] ?? DefaultKeyFile(configuration)));
        }

        foreach (var previous in section.GetSection("PreviousKeys").GetChildren())
        {
            if (previous.Value is { Length: > 0 } value)
            {
                keys.Add(Decode(value, previous.Path));
            }
        }

        return keys;
    }

    /// <summary>
    /// The key file in use when it sits in the SQLite database's folder (the default), else null: a backup or copy of the
    /// data folder then carries the key that decrypts it, which the host warns about at start (docs/OPERATIONS.md).
    /// </summary>
    public static (string KeyFile, string Folder)? KeyFileBesideDatabase(IConfiguration configuration)
    {
        var postgres = string.Equals(configuration["Herald:Storage"], "postgres", StringComparison.OrdinalIgnoreCase);
        if (postgres || configuration.GetSection("Herald:Secrets")["Key"] is { Length: > 0 })
        {
            return null;
        }

        var keyFile = Path.GetFullPath(configuration["Herald:Secrets:KeyFile"] ?? DefaultKeyFile(configuration));
        var databaseFolder = Path.GetDirectoryName(DefaultKeyFile(configuration))!;
        return string.Equals(Path.GetDirectoryName(keyFile), databaseFolder, StringComparison.Ordinal) ? (keyFile, databaseFolder) : null;
    }

    /// <summary>Next to the SQLite database, so a copied data folder keeps its credentials readable.</summary>
    private static string DefaultKeyFile(IConfiguration configuration)
    {
        var dataSource = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(
            configuration.GetConnectionString("Sqlite") ?? "Data Source=data/herald.db").DataSource;
        var directory = Path.GetDirectoryName(Path.GetFullPath(string.IsNullOrEmpty(dataSource) ? "data/herald.db" : dataSource));
        return Path.Combine(directory ?? "data", "secret-key");
    }

    private static byte[] LoadOrCreateKeyFile(string path)
    {
        if (File.Exists(path))
        {
            // A key file left readable by others (copied, or written by hand) is narrowed to its owner.
            Sqlite.SqliteDatabase.OwnerOnly(path);
            return Decode(File.ReadAllText(path).Trim(), path);
        }

        var key = RandomNumberGenerator.GetBytes(32);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var writer = new StreamWriter(path, Encoding.ASCII, options);
            writer.Write(Convert.ToBase64String(key));
            return key;
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first: use theirs.
            return Decode(File.ReadAllText(path).Trim(), path);
        }
    }

    private static byte[] Decode(string base64, string name)
    {
        try
        {
            var key = Convert.FromBase64String(base64);
            return key.Length == 32 ? key : throw new SecretsConfigurationException($"{name} must be base64 of 32 bytes, not {key.Length} bytes.");
        }
        catch (FormatException)
        {
            throw new SecretsConfigurationException($"{name} is not valid base64 (expected base64 of 32 random bytes).");
        }
    }
}
