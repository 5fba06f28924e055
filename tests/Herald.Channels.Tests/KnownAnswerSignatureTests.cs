using System.Text;
using Herald.Channels.Sms;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Herald.Sandbox.Sms;
using Herald.Sandbox.WhatsApp;

namespace Herald.Channels.Tests;

/// <summary>
/// Known answers for every vendor signature Herald verifies and every one its sandbox produces. Each expected value
/// comes from the vendor's published example or was computed once with openssl from the documented recipe, never from
/// Herald's own code: a signer and a verifier that drift to the same wrong format together fail here.
/// </summary>
public sealed class KnownAnswerSignatureTests
{
    // Twilio's "Webhooks security" page: auth token 12345, this URL and these POST parameters sign to this value.
    // https://www.twilio.com/docs/usage/security#validating-requests (also: printf '%s' "<url><sorted key+value>" |
    // openssl dgst -sha1 -hmac 12345 -binary | base64).
    private const string TwilioUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";
    private const string TwilioToken = "12345";
    private const string TwilioDocsSignature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

    private static readonly KeyValuePair<string, string>[] TwilioDocsParams =
    [
        new("To", "+18005551212"),
        new("Digits", "1234"),
        new("CallSid", "CA1234567890ABCDE"),
        new("From", "+12349013030"),
        new("Caller", "+12349013030"),
    ];

    // Meta: X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of the raw body keyed with the app secret. Computed with
    // printf '%s' "$WhatsAppBody" | openssl dgst -sha256 -hmac 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    private const string WhatsAppSecret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    private const string WhatsAppBody = """{"object":"whatsapp_business_account","entry":[]}""";
    private const string WhatsAppHeader = "sha256=6a682fb5f144fec443c6f7c7415e8dc8c4cfd379261962da3acfef69ac7398af";

    [Fact]
    public void Twilio_DocumentedExample_SignsAndVerifies()
    {
        Assert.Equal(TwilioDocsSignature, TwilioStatusCallback.Sign(TwilioUrl, TwilioDocsParams, TwilioToken));
        Assert.True(TwilioStatusCallback.VerifySignature(TwilioUrl, TwilioDocsParams, TwilioDocsSignature, TwilioToken));
        Assert.Equal("X-Twilio-Signature", TwilioStatusCallback.SignatureHeader);
    }

    [Fact]
    public void Twilio_SandboxSigner_ProducesTheDocumentedSignature()
    {
        Assert.Equal(TwilioDocsSignature, TwilioCallbackDispatcher.Sign(TwilioUrl, TwilioDocsParams, TwilioToken));
        Assert.Equal("X-Twilio-Signature", TwilioCallbackDispatcher.SignatureHeader);
    }

    [Fact]
    public void WhatsApp_OpensslKnownAnswer_VerifiesAndWrongFormatsDoNot()
    {
        var body = Encoding.UTF8.GetBytes(WhatsAppBody);

        Assert.True(WhatsAppWebhook.VerifySignature(body, WhatsAppHeader, WhatsAppSecret));
        Assert.Equal("X-Hub-Signature-256", WhatsAppWebhook.SignatureHeader);
        // The bare hex, a base64 digest of the same MAC, and the SHA-1 header name's prefix are other formats.
        Assert.False(WhatsAppWebhook.VerifySignature(body, WhatsAppHeader["sha256=".Length..], WhatsAppSecret));
        Assert.False(WhatsAppWebhook.VerifySignature(body, "sha256=" + Convert.ToBase64String(Convert.FromHexString(WhatsAppHeader["sha256=".Length..])), WhatsAppSecret));
        Assert.False(WhatsAppWebhook.VerifySignature(body, "sha1=" + WhatsAppHeader["sha256=".Length..], WhatsAppSecret));
    }

    [Fact]
    public void WhatsApp_SandboxSigner_ProducesTheKnownAnswer()
    {
        Assert.Equal(WhatsAppHeader, WhatsAppWebhookDispatcher.Sign(Encoding.UTF8.GetBytes(WhatsAppSecret), Encoding.UTF8.GetBytes(WhatsAppBody)));
    }

    [Fact]
    public void Telegram_SecretToken_IsTheBotApiHeaderComparedExactly()
    {
        // Bot API setWebhook: "secret_token … sent in a header X-Telegram-Bot-Api-Secret-Token in every webhook
        // request", the token itself (no hash, no prefix), 1-256 characters of A-Z, a-z, 0-9, _ and -.
        Assert.Equal("X-Telegram-Bot-Api-Secret-Token", TelegramWebhook.SecretHeader);
        const string token = "Herald_secret-Token_0123456789";
        Assert.True(TelegramWebhook.VerifySecret(token, token));
        Assert.False(TelegramWebhook.VerifySecret(token.ToUpperInvariant(), token));
        Assert.False(TelegramWebhook.VerifySecret(token + " ", token));
        Assert.False(TelegramWebhook.VerifySecret("sha256=" + token, token));
    }
}
