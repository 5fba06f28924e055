namespace Herald.Sandbox.Callbacks;

/// <summary>
/// The secrets the simulators sign their callbacks with, per account, as each vendor does: Meta signs a WhatsApp
/// webhook with the app secret of the number's app; a bank's mail system hands a bounce report in with that SMTP
/// account's bounce token. (Twilio-style status callbacks are signed with the auth token the send authenticated
/// with; SMPP receipts travel over the account's own bind; neither needs a lookup.)
/// </summary>
public interface ISandboxCallbackSecrets
{
    /// <summary>The app secret of the account sending from <paramref name="phoneNumberId"/>; null when none is known
    /// (the webhook is not sent, and retried until the retry window closes).</summary>
    string? WhatsAppAppSecret(string phoneNumberId);

    /// <summary>The bounce token of SMTP account <paramref name="accountId"/>; null when none is known.</summary>
    string? EmailBounceToken(Guid accountId);

    /// <summary>The webhook secret (setWebhook's <c>secret_token</c>) of the bot <paramref name="botId"/> (the digits
    /// before its token's colon): a simulated customer's update is posted to Herald's
    /// <c>/callbacks/telegram/{secret}</c> with it. Null when none is known (answers are then not simulated).</summary>
    string? TelegramWebhookSecret(string botId) => null;
}

/// <summary>The standalone sandbox's answer: <see cref="SandboxOptions.AppSecret"/> for every account, or none.</summary>
public sealed class ConfiguredCallbackSecrets(Microsoft.Extensions.Options.IOptions<SandboxOptions> options) : ISandboxCallbackSecrets
{
    /// <inheritdoc />
    public string? WhatsAppAppSecret(string phoneNumberId) => options.Value.AppSecret;

    /// <inheritdoc />
    public string? EmailBounceToken(Guid accountId) => options.Value.AppSecret;
}
