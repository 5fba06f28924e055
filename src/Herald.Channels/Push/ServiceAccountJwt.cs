using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;

namespace Herald.Channels.Push;

/// <summary>
/// The self-signed JWT of Google's service-account flow (RFC 7523 "JWT bearer" grant): header
/// <c>{"alg":"RS256","typ":"JWT","kid"}</c>, claims <c>{iss, scope, aud = token_uri, iat, exp = iat + 1 h}</c>, signed
/// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) with the account's private key.
/// </summary>
public static class ServiceAccountJwt
{
    /// <summary>Google accepts assertions valid for at most one hour.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    public static string Create(RSA key, string? keyId, string issuer, string scope, string audience, DateTimeOffset now)
    {
        var header = Json(w =>
        {
            w.WriteString("alg", "RS256");
            w.WriteString("typ", "JWT");
            if (!string.IsNullOrEmpty(keyId))
            {
                w.WriteString("kid", keyId);
            }
        });
        var iat = now.ToUnixTimeSeconds();
        var claims = Json(w =>
        {
            w.WriteString("iss", issuer);
            w.WriteString("scope", scope);
            w.WriteString("aud", audience);
            w.WriteNumber("iat", iat);
            w.WriteNumber("exp", iat + (long)Lifetime.TotalSeconds);
        });
        var signingInput = Base64Url.EncodeToString(header) + "." + Base64Url.EncodeToString(claims);
        var signature = key.SignData(System.Text.Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
