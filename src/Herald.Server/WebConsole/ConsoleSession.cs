using System.Globalization;
using System.Security.Cryptography;
using Herald.Storage.Secrets;

namespace Herald.Server.WebConsole;

/// <summary>
/// What the console's cookie holds: the SHA-256 of the API key it was made from (never the key), its CSRF token and
/// when it ends, encrypted and authenticated with the node's secrets key (<see cref="ISecretProtector"/>, context
/// <c>console-session</c>). Every node of a cluster has the same key (Herald:Secrets:Key), so a session made on one
/// node is read on any other, with no key ring or session table to share. The key is looked up again on every
/// request, so revoking it ends the session.
/// </summary>
public sealed record ConsoleTicket(byte[] KeyHash, string Csrf, DateTimeOffset ExpiresAt)
{
    private const string Context = "console-session";
    private const string Version = "v1";

    public static ConsoleTicket Create(byte[] keyHash, DateTimeOffset expiresAt) =>
        new(keyHash, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_'), expiresAt);

    public string Protect(ISecretProtector protector) =>
        protector.Protect(string.Join('|', Version, Convert.ToHexString(KeyHash), Csrf, ExpiresAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)), Context);

    /// <summary>The ticket in <paramref name="value"/>; null when it was not made by this cluster, was altered, or is
    /// malformed.</summary>
    public static ConsoleTicket? Unprotect(ISecretProtector protector, string value)
    {
        string plain;
        try
        {
            plain = protector.Unprotect(value, Context);
        }
        catch (CryptographicException)
        {
            return null;
        }

        var parts = plain.Split('|');
        if (parts.Length != 4 || parts[0] != Version
            || !long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var expires))
        {
            return null;
        }

        try
        {
            return new ConsoleTicket(Convert.FromHexString(parts[1]), parts[2], DateTimeOffset.FromUnixTimeMilliseconds(expires));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
