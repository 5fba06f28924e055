using System.Text.Json;

namespace Herald.Channels.Telegram;

/// <summary>The settings of a "telegram-bot" provider account (Telegram Bot API).</summary>
/// <param name="WebhookSecret">The <c>secret_token</c> given to setWebhook; Telegram sends it back in
/// <c>X-Telegram-Bot-Api-Secret-Token</c>.</param>
public sealed record TelegramSettings(Uri BaseUrl, string BotToken, string? WebhookSecret)
{
    public const string DefaultBaseUrl = "https://api.telegram.org";

    /// <summary><c>{baseUrl}/bot{token}/sendMessage</c>. The token is part of the path, so this URI is a secret: never log it.</summary>
    public Uri SendMessageUri { get; } = new($"{BaseUrl.AbsoluteUri.TrimEnd('/')}/bot{BotToken}/sendMessage");

    /// <summary>Answers an inline keyboard press, so the customer's client stops its progress indicator (issue #16).</summary>
    public Uri AnswerCallbackQueryUri { get; } = new($"{BaseUrl.AbsoluteUri.TrimEnd('/')}/bot{BotToken}/answerCallbackQuery");

    /// <summary>The bot's id: the part of the token before its colon (Telegram's tokens are <c>{botId}:{secret}</c>);
    /// the whole token's hash when it has no colon, so the secret part never becomes an identity.</summary>
    public string BotId => BotToken.IndexOf(':', StringComparison.Ordinal) is > 0 and var colon
        ? BotToken[..colon]
        : "h" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(BotToken)))[..16];

    public static TelegramSettings Parse(JsonElement root)
    {
        var token = SettingsJson.Required(root, "botToken");
        if (token.AsSpan().IndexOfAny("/?#% ") >= 0)
        {
            throw new FormatException("settings.botToken has characters a bot token cannot have");
        }

        return new(SettingsJson.BaseUrl(root, DefaultBaseUrl), token, SettingsJson.Optional(root, "webhookSecret"));
    }

    public static TelegramSettings Parse(string settingsJson)
    {
        using var doc = JsonDocument.Parse(settingsJson);
        return Parse(doc.RootElement);
    }
}
