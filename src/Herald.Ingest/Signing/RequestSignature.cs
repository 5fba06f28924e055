using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Ingest.Signing;

/// <summary>Why a signed request was refused (or <see cref="Valid"/>).</summary>
public enum SignatureCheck
{
    Valid,
    Missing,
    Malformed,
    OutsideWindow,
    Mismatch,
}

/// <summary>
/// HMAC-SHA256 request signatures for sources: <c>X-Herald-Timestamp: {unix seconds}</c> and
/// <c>X-Herald-Signature: v1={hex HMAC-SHA256 of "{timestamp}.{raw body}"}</c> with the source's signing secret.
/// Several comma-separated <c>v1=</c> values are allowed (during a secret rotation a sender may sign with both).
/// Pure; the caller adds replay protection (a signature is accepted once within the window).
/// </summary>
public static class RequestSignature
{
    public const string TimestampHeader = "X-Herald-Timestamp";
    public const string SignatureHeader = "X-Herald-Signature";
    public const string Scheme = "v1=";

    /// <summary>A new random signing secret (256 bits, hex), shown to the bank once.</summary>
    public static string NewSecret() => "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>The header value a sender computes.</summary>
    public static string Sign(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        using var hmac = Start(secret, timestamp);
        hmac.AppendData(body);
        return Scheme + Convert.ToHexStringLower(hmac.GetHashAndReset());
    }

    /// <summary>An HMAC primed with "{timestamp}.": append the body (in pieces, for streamed uploads), then <see cref="Verify"/>.</summary>
    public static IncrementalHash Start(string secret, long timestamp)
    {
        var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        hmac.AppendData(Encoding.ASCII.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + "."));
        return hmac;
    }

    /// <summary>Checks the timestamp header against <paramref name="now"/> ± <paramref name="window"/>.</summary>
    public static SignatureCheck CheckTimestamp(string? timestampHeader, DateTimeOffset now, TimeSpan window, out long timestamp)
    {
        timestamp = 0;
        if (string.IsNullOrEmpty(timestampHeader))
        {
            return SignatureCheck.Missing;
        }

        if (timestampHeader.Length > 12 || !long.TryParse(timestampHeader, NumberStyles.None, CultureInfo.InvariantCulture, out timestamp))
        {
            return SignatureCheck.Malformed;
        }

        var skew = now.ToUnixTimeSeconds() - timestamp;
        return Math.Abs(skew) > window.TotalSeconds ? SignatureCheck.OutsideWindow : SignatureCheck.Valid;
    }

    /// <summary>Compares the computed MAC with every <c>v1=</c> value of the header in constant time.</summary>
    /// <param name="matched">The matching signature's bytes (for replay protection).</param>
    public static SignatureCheck Verify(string? signatureHeader, byte[] computed, out byte[]? matched)
    {
        matched = null;
        if (string.IsNullOrEmpty(signatureHeader))
        {
            return SignatureCheck.Missing;
        }

        var any = false;
        foreach (var part in signatureHeader.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Take(4))
        {
            if (!part.StartsWith(Scheme, StringComparison.Ordinal) || part.Length != Scheme.Length + 64)
            {
                continue;
            }

            byte[] given;
            try
            {
                given = Convert.FromHexString(part.AsSpan(Scheme.Length));
            }
            catch (FormatException)
            {
                continue;
            }

            any = true;
            if (CryptographicOperations.FixedTimeEquals(given, computed))
            {
                matched = given;
                return SignatureCheck.Valid;
            }
        }

        return any ? SignatureCheck.Mismatch : SignatureCheck.Malformed;
    }

    /// <summary>Normalises a certificate fingerprint for comparison: hex digits only, upper case.</summary>
    public static string NormaliseFingerprint(string fingerprint) =>
        new([.. fingerprint.Where(char.IsAsciiHexDigit).Select(char.ToUpperInvariant)]);
}
