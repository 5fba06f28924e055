using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Server.Webhooks;

/// <summary>
/// How Herald signs the webhooks it sends: <c>Herald-Signature: t={unix seconds},v1={hex HMAC-SHA256}</c>, where the
/// HMAC key is the endpoint's secret (its UTF-8 bytes) and the message is <c>"{t}.{raw body}"</c>. Receivers recompute
/// it, compare in constant time and refuse a timestamp outside their tolerance (replays). docs/WEBHOOKS.md has a
/// worked example.
/// </summary>
public static class WebhookSignature
{
    public const string Header = "Herald-Signature";

    public static string Sign(string secret, DateTimeOffset timestamp, ReadOnlySpan<byte> body)
    {
        var t = timestamp.ToUnixTimeSeconds();
        return $"t={t.ToString(CultureInfo.InvariantCulture)},v1={Convert.ToHexStringLower(Compute(secret, t, body))}";
    }

    /// <summary>What a receiver does: true when <paramref name="header"/> carries a v1 signature of <paramref name="body"/>
    /// with <paramref name="secret"/> and a timestamp within <paramref name="tolerance"/> of <paramref name="now"/>.</summary>
    public static bool Verify(string secret, string header, ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan tolerance)
    {
        long? t = null;
        var candidates = new List<byte[]>();
        foreach (var part in header.Split(','))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            var key = part[..eq].Trim();
            var value = part[(eq + 1)..].Trim();
            if (key == "t" && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                t = parsed;
            }
            else if (key == "v1" && value.Length == 64)
            {
                try
                {
                    candidates.Add(Convert.FromHexString(value));
                }
                catch (FormatException)
                {
                    // Not hex: not a signature.
                }
            }
        }

        if (t is not { } timestamp || Math.Abs(now.ToUnixTimeSeconds() - timestamp) > tolerance.TotalSeconds)
        {
            return false;
        }

        var expected = Compute(secret, timestamp, body);
        return candidates.Any(c => CryptographicOperations.FixedTimeEquals(c, expected));
    }

    private static byte[] Compute(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        hmac.AppendData(prefix);
        hmac.AppendData(body);
        return hmac.GetHashAndReset();
    }
}
