using System.Security.Cryptography;
using System.Text;

namespace Herald.Channels.Telegram;

/// <summary>Pure helpers for Telegram's webhook callbacks.</summary>
public static class TelegramWebhook
{
    public const string SecretHeader = "X-Telegram-Bot-Api-Secret-Token";

    /// <summary>Compares <c>X-Telegram-Bot-Api-Secret-Token</c> with the configured secret in constant time.
    /// An empty expected secret never matches.</summary>
    public static bool VerifySecret(string? headerValue, string expected)
    {
        if (headerValue is null || string.IsNullOrEmpty(expected))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(headerValue), Encoding.UTF8.GetBytes(expected));
    }
}
