using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Channels.Providers;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;

namespace Herald.Channels.Tests;

/// <summary>
/// What each connector kind says its sender is (issue #13: a sender identity belongs to one account), and the parts of
/// the Telegram webhook that bind an update to one bot account.
/// </summary>
public sealed class SenderIdentityTests
{
    [Theory]
    [InlineData("whatsapp-cloud", """{"phoneNumberId":"106540352242922","accessToken":"t","appSecret":"s"}""", "whatsapp:106540352242922")]
    [InlineData("telegram-bot", """{"botToken":"123456789:AAE-secret-part"}""", "telegram:123456789")]
    [InlineData("twilio-sms", """{"accountSid":"AC1","authToken":"t","from":"+15005550006"}""", "twilio:AC1:+15005550006")]
    [InlineData("twilio-sms", """{"accountSid":"AC1","authToken":"t","messagingServiceSid":"MG9"}""", "twilio:AC1:MG9")]
    [InlineData("smpp", """{"host":"SMSC.Bank.example","systemId":"bank","sourceAddr":"BANK"}""", "smpp:smsc.bank.example:bank")]
    [InlineData("smtp", """{"host":"relay.example","fromAddress":"a@bank.example"}""", null)]
    [InlineData("whatsapp-cloud", """{"accessToken":"t"}""", null)]
    [InlineData("no-such-kind", """{"phoneNumberId":"1"}""", null)]
    public void SenderIdentity_PerKind(string kind, string settings, string? expected)
    {
        Assert.Equal(expected, ConnectorDefinitions.SenderIdentity(kind, settings));
    }

    [Fact]
    public void SenderIdentity_TelegramTokenWithoutColon_NeverExposesTheToken()
    {
        var identity = ConnectorDefinitions.SenderIdentity("telegram-bot", """{"botToken":"tokenwithoutcolon"}""");

        Assert.NotNull(identity);
        Assert.DoesNotContain("tokenwithoutcolon", identity, StringComparison.Ordinal);
    }

    [Fact]
    public void TelegramSecret_ComparedExactly()
    {
        Assert.True(TelegramWebhook.VerifySecret("abc_DEF-123", "abc_DEF-123"));
        Assert.False(TelegramWebhook.VerifySecret("abc_DEF-124", "abc_DEF-123"));
        Assert.False(TelegramWebhook.VerifySecret("abc_DEF-123x", "abc_DEF-123"));
        Assert.False(TelegramWebhook.VerifySecret(null, "abc_DEF-123"));
        Assert.False(TelegramWebhook.VerifySecret("", ""));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("abc"))), TelegramWebhook.SecretKey("abc"));
    }

    [Fact]
    public void ParseUpdate_DocumentedShapes()
    {
        // https://core.telegram.org/bots/webhooks ("Testing your bot"): a message and a callback query.
        var message = TelegramWebhook.ParseUpdate("""
            {"update_id":10000,"message":{"date":1441645532,"chat":{"last_name":"Test Lastname","id":1111111,"type":"private","first_name":"Test Firstname","username":"Testusername"},"message_id":1365,"from":{"last_name":"Test Lastname","id":1111111,"first_name":"Test Firstname","username":"Testusername"},"text":"/start"}}
            """u8);
        var query = TelegramWebhook.ParseUpdate("""
            {"update_id":10000,"callback_query":{"id":"4382bfdwdsb323b2d9","from":{"last_name":"Test Lastname","type":"private","id":1111111,"first_name":"Test Firstname","username":"Testusername"},"data":"Data from button callback","inline_message_id":"1234csdbsk4839"}}
            """u8);

        Assert.Equal((10000L, "message"), (message.UpdateId, message.Kind));
        Assert.Equal((10000L, "callback_query"), (query.UpdateId, query.Kind));
        // The customer's text is read (issue #16); a callback query without the keyboard's message names nothing to answer.
        Assert.Equal("/start", message.Message!.Text);
        Assert.Null(query.Message);
        Assert.Throws<InvalidWebhookPayloadException>(() => TelegramWebhook.ParseUpdate("""{"message":{}}"""u8));
        Assert.Throws<InvalidWebhookPayloadException>(() => TelegramWebhook.ParseUpdate("""{"update_id":1.5}"""u8));
        Assert.Throws<InvalidWebhookPayloadException>(() => TelegramWebhook.ParseUpdate("not json"u8));
        Assert.Throws<InvalidWebhookPayloadException>(() => TelegramWebhook.ParseUpdate(Encoding.UTF8.GetBytes(new string('[', 100) + new string(']', 100))));
    }

    [Fact]
    public void WhatsAppSignature_KnownAnswer_FromMetasRecipe()
    {
        // sha256=HMAC-SHA256(app secret, raw body), lower-case hex (Meta: "Validating payloads"). Computed here from the
        // recipe with the platform's HMAC, not with Herald's signer.
        var body = """{"object":"whatsapp_business_account","entry":[]}"""u8.ToArray();
        var header = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData("per-account-secret"u8, body));

        Assert.True(WhatsAppWebhook.VerifySignature(body, header, "per-account-secret"));
        Assert.False(WhatsAppWebhook.VerifySignature(body, header, "another-accounts-secret"));
        _ = JsonDocument.Parse(body);
    }
}
