using System.Security.Cryptography;
using System.Text.Json;

namespace Herald.Channels.Push;

/// <summary>
/// The settings of an "fcm" provider account: the fields of a Google service-account key file
/// (<c>project_id</c>, <c>client_email</c>, <c>private_key</c>, <c>private_key_id</c>, <c>token_uri</c>), so an operator
/// can paste the downloaded JSON, plus Herald's own optional <c>baseUrl</c> (the FCM API host), <c>projectId</c>
/// (overrides <c>project_id</c>) and <c>title</c> (the notification title shown above the text).
/// </summary>
public sealed class FcmSettings : IDisposable
{
    public const string DefaultBaseUrl = "https://fcm.googleapis.com";
    public const string DefaultTokenUri = "https://oauth2.googleapis.com/token";

    /// <summary>The OAuth2 scope FCM's HTTP v1 API needs.</summary>
    public const string Scope = "https://www.googleapis.com/auth/firebase.messaging";

    private FcmSettings(Uri baseUrl, string projectId, string clientEmail, string? privateKeyId, Uri tokenUri, string? title, RSA privateKey)
    {
        BaseUrl = baseUrl;
        ProjectId = projectId;
        ClientEmail = clientEmail;
        PrivateKeyId = privateKeyId;
        TokenUri = tokenUri;
        Title = title;
        PrivateKey = privateKey;
        SendUri = new Uri($"{baseUrl.AbsoluteUri.TrimEnd('/')}/v1/projects/{Uri.EscapeDataString(projectId)}/messages:send");
    }

    public Uri BaseUrl { get; }

    public string ProjectId { get; }

    /// <summary>The service account: the JWT's issuer.</summary>
    public string ClientEmail { get; }

    /// <summary>The key's id, sent as the JWT header's <c>kid</c> when known.</summary>
    public string? PrivateKeyId { get; }

    /// <summary>Where the signed JWT is exchanged for an access token (also the JWT's audience).</summary>
    public Uri TokenUri { get; }

    public string? Title { get; }

    /// <summary><c>{baseUrl}/v1/projects/{projectId}/messages:send</c>.</summary>
    public Uri SendUri { get; }

    internal RSA PrivateKey { get; }

    public static FcmSettings Parse(JsonElement root)
    {
        var projectId = SettingsJson.Optional(root, "projectId") is { Length: > 0 } p ? p : SettingsJson.Required(root, "project_id");
        var clientEmail = SettingsJson.Required(root, "client_email");
        var pem = SettingsJson.Required(root, "private_key");
        var tokenUriText = SettingsJson.Optional(root, "token_uri") is { Length: > 0 } t ? t : DefaultTokenUri;
        if (!Uri.TryCreate(tokenUriText, UriKind.Absolute, out var tokenUri) || (tokenUri.Scheme != Uri.UriSchemeHttps && tokenUri.Scheme != Uri.UriSchemeHttp)
            || !string.IsNullOrEmpty(tokenUri.UserInfo))
        {
            throw new FormatException("settings.token_uri must be an absolute http(s) URL without credentials");
        }

        if (!pem.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new FormatException("settings.private_key is not a PEM private key");
        }

        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            // The exception text never quotes the key.
            throw new FormatException("settings.private_key is not a PEM RSA private key");
        }

        if (rsa.KeySize < 2048)
        {
            rsa.Dispose();
            throw new FormatException("settings.private_key must be an RSA key of at least 2048 bits");
        }

        return new FcmSettings(
            SettingsJson.BaseUrl(root, DefaultBaseUrl), projectId, clientEmail, SettingsJson.Optional(root, "private_key_id"), tokenUri,
            SettingsJson.Optional(root, "title") is { Length: > 0 } title ? title : null, rsa);
    }

    /// <summary>Frees the private key (settings parsed only to validate them).</summary>
    public void Dispose() => PrivateKey.Dispose();

    /// <summary>Never prints the key.</summary>
    public override string ToString() => $"FcmSettings {{ ProjectId = {ProjectId}, ClientEmail = {ClientEmail}, BaseUrl = {BaseUrl} }}";
}
