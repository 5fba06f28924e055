using Herald.Channels.Providers;
using Herald.Core.Notifications;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Channels.Push;

/// <summary>Firebase Cloud Messaging: the connector and its access tokens, the sandbox account.</summary>
public static class FcmChannel
{
    /// <summary>Its settings: fields, which are required and which are secrets, validation, egress, sender identity.</summary>
    /// <summary>The setting holding the action callbacks' signing key (docs/TWO-WAY.md, "Push action callbacks").</summary>
    public const string CallbackSecretSetting = "callbackSecret";

    public static ConnectorDefinition Definition { get; } =
    new(FcmConnector.ConnectorKind, Channel.Push,
    [
        new("project_id", true, false, "Firebase project id (from the service-account key file)."),
        new("client_email", true, false, "Service-account e-mail (from the key file)."),
        new("private_key", true, true, "Service-account RSA private key, PEM (from the key file)."),
        new("private_key_id", false, false, "The key's id (from the key file)."),
        new("token_uri", false, false, "OAuth2 token endpoint (default https://oauth2.googleapis.com/token)."),
        new("projectId", false, false, "Overrides project_id."),
        new("baseUrl", false, false, "FCM API base URL (default https://fcm.googleapis.com)."),
        new("title", false, false, "Notification title shown above the text."),
        new(CallbackSecretSetting, false, true, "Key of the Herald-Signature HMAC the bank's app puts on action callbacks (POST /callbacks/push/{accountId}); none: callbacks refused."),
    ], static e => FcmSettings.Parse(e).Dispose(), static e =>
    {
        using var s = FcmSettings.Parse(e);
        return [EgressDestination.ForUrl("baseUrl", s.BaseUrl), EgressDestination.ForUrl("token_uri", s.TokenUri)];
    },
        static e =>
        {
            using var fcm = FcmSettings.Parse(e);
            return "fcm:" + fcm.ProjectId;
        });

    // After Definition: static initializers run in text order.
    public static ChannelPlugin Plugin { get; } = new(Definition, Register, Sandbox);

    private static void Register(IServiceCollection services, IConfiguration configuration)
    {
        services.AddHeraldPush(configuration);
    }

    /// <summary>A throwaway service account (RSA key per tenant) whose JWTs the FCM simulator verifies by signature.</summary>
    private static SandboxAccount Sandbox(SandboxContext context) =>
        new("Sandbox Push", context.FcmServiceAccount(context.SandboxBaseUrl, context.TenantName));
}
