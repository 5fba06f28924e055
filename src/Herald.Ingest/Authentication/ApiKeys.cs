using System.Security.Cryptography;
using System.Text;

namespace Herald.Ingest.Authentication;

/// <summary>API key material. Keys are 256-bit random secrets; only their SHA-256 is stored. A slow password hash
/// buys nothing for a key with this much entropy and would cost a hash per request.</summary>
public static class ApiKeys
{
    public const string Prefix = "hk_";

    public static string Generate() =>
        Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>What listings show of a key: enough to tell keys apart, useless to an attacker.</summary>
    public static string DisplayPrefix(string key) => key[..Math.Min(key.Length, Prefix.Length + 6)];

    /// <summary>Compares two secrets in constant time. Their hashes are compared, which have equal lengths, so the
    /// time says nothing about a secret's length either.</summary>
    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Hash(a), Hash(b));
}
