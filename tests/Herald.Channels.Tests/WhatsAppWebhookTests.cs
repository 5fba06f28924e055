using System.Security.Cryptography;
using System.Text;
using Herald.Channels.WhatsApp;
using Herald.Core.Delivery;

namespace Herald.Channels.Tests;

public sealed class WhatsAppWebhookTests
{
    private const string AppSecret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

    // Payloads follow Meta's "messages" webhook reference (status and incoming message shapes).
    private const string Sent = """
        {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA","status":"sent","timestamp":"1750857384","recipient_id":"16505551234","conversation":{"id":"a75d17ad06104c51166f948319b03c6a","expiration_timestamp":"1750943820","origin":{"type":"utility"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"utility"}}]},"field":"messages"}]}]}
        """;

    private const string Failed = """
        {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MUI2RDQ0Rjk0MzYwQjlEM0YA","status":"failed","timestamp":"1691548112","recipient_id":"16505551234","errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]}]},"field":"messages"}]}]}
        """;

    private const string Batched = """
        {"object":"whatsapp_business_account","entry":[
          {"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[
            {"id":"wamid.A","status":"delivered","timestamp":"1750857390","recipient_id":"16505551234","conversation":{"id":"c1","origin":{"type":"utility"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"utility"}},
            {"id":"wamid.B","status":"read","timestamp":"1750857400","recipient_id":"16505551234"},
            {"id":"wamid.C","status":"deleted","timestamp":"1750857401","recipient_id":"16505551234"}
          ]},"field":"messages"}]},
          {"id":"202290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783882","phone_number_id":"206540352242922"},"statuses":[
            {"id":"wamid.D","status":"failed","timestamp":1750857402,"recipient_id":"4915112345678","errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"Message Undeliverable."}}],"future_field":{"x":1}}
          ]},"field":"messages"}]}
        ]}
        """;

    private const string Inbound = """
        {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]},"field":"messages"}]}]}
        """;

    private static string Sign(byte[] body, string secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    [Fact]
    public void VerifySignature_ValidHeader_IsTrue()
    {
        var body = Encoding.UTF8.GetBytes(Sent);
        Assert.True(WhatsAppWebhook.VerifySignature(body, Sign(body, AppSecret), AppSecret));
    }

    [Fact]
    public void VerifySignature_UppercaseHex_IsTrue()
    {
        var body = Encoding.UTF8.GetBytes(Sent);
        Assert.True(WhatsAppWebhook.VerifySignature(body, "sha256=" + Sign(body, AppSecret)[7..].ToUpperInvariant(), AppSecret));
    }

    [Fact]
    public void VerifySignature_TamperedBody_IsFalse()
    {
        var body = Encoding.UTF8.GetBytes(Sent);
        var header = Sign(body, AppSecret);
        var tampered = Encoding.UTF8.GetBytes(Sent.Replace("\"sent\"", "\"read\"", StringComparison.Ordinal));
        Assert.False(WhatsAppWebhook.VerifySignature(tampered, header, AppSecret));
    }

    [Fact]
    public void VerifySignature_WrongSecret_IsFalse()
    {
        var body = Encoding.UTF8.GetBytes(Sent);
        Assert.False(WhatsAppWebhook.VerifySignature(body, Sign(body, "another-app-secret"), AppSecret));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sha1=3b9f0ad1f8b3c5b0a0e7c3c0e4f1f2a3b4c5d6e7")]
    [InlineData("sha256=")]
    [InlineData("sha256=zz")]
    [InlineData("sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg")]
    public void VerifySignature_MissingOrMalformedHeader_IsFalse(string? header) =>
        Assert.False(WhatsAppWebhook.VerifySignature(Encoding.UTF8.GetBytes(Sent), header, AppSecret));

    [Fact]
    public void VerifySignature_NoAppSecretConfigured_IsFalse()
    {
        var body = Encoding.UTF8.GetBytes(Sent);
        Assert.False(WhatsAppWebhook.VerifySignature(body, Sign(body, ""), ""));
    }

    [Fact]
    public void VerifyHandshake_SubscribeWithMatchingToken_ReturnsChallenge() =>
        Assert.Equal("1158201444", WhatsAppWebhook.VerifyHandshake("subscribe", "meatyhamhock", "1158201444", "meatyhamhock"));

    [Theory]
    [InlineData("subscribe", "wrong", "1158201444")]
    [InlineData("unsubscribe", "meatyhamhock", "1158201444")]
    [InlineData(null, "meatyhamhock", "1158201444")]
    [InlineData("subscribe", null, "1158201444")]
    [InlineData("subscribe", "meatyhamhock", null)]
    public void VerifyHandshake_WrongModeTokenOrNoChallenge_ReturnsNull(string? mode, string? token, string? challenge) =>
        Assert.Null(WhatsAppWebhook.VerifyHandshake(mode, token, challenge, "meatyhamhock"));

    [Fact]
    public void Parse_SentStatus_ReturnsSentReceiptWithTimestampAndPhoneNumberId()
    {
        var batch = WhatsAppWebhook.Parse(Encoding.UTF8.GetBytes(Sent));

        Assert.Equal(["106540352242922"], batch.PhoneNumberIds);
        var r = Assert.Single(batch.Receipts);
        Assert.Equal("106540352242922", r.PhoneNumberId);
        Assert.Equal(new ProviderReceipt("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA", ReceiptState.Sent, DateTimeOffset.FromUnixTimeSeconds(1750857384)), r.Receipt);
    }

    [Fact]
    public void Parse_FailedStatus_CarriesFirstErrorCodeInHeraldsWords()
    {
        var r = Assert.Single(WhatsAppWebhook.Parse(Encoding.UTF8.GetBytes(Failed)).Receipts).Receipt;

        Assert.Equal(ReceiptState.Failed, r.State);
        Assert.Equal("131047", r.ErrorCode);
        // Meta's title and message are far-end text and stay out of the attempt (issue #13).
        Assert.Equal("WhatsApp reported the message failed (error 131047)", r.Error);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1691548112), r.At);
    }

    [Fact]
    public void Parse_BatchedStatusesOfTwoNumbers_ReturnsEachKnownStatusTaggedWithItsNumber()
    {
        var batch = WhatsAppWebhook.Parse(Encoding.UTF8.GetBytes(Batched));

        Assert.Equal(["106540352242922", "206540352242922"], batch.PhoneNumberIds);
        Assert.Equal(
            [("106540352242922", "wamid.A", ReceiptState.Delivered), ("106540352242922", "wamid.B", ReceiptState.Read), ("206540352242922", "wamid.D", ReceiptState.Failed)],
            batch.Receipts.Select(r => (r.PhoneNumberId, r.Receipt.ProviderMessageId, r.Receipt.State)));
        var failed = batch.Receipts[2].Receipt;
        Assert.Equal("131026", failed.ErrorCode);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1750857402), failed.At);
    }

    [Fact]
    public void Parse_InboundMessage_IsIgnored()
    {
        var batch = WhatsAppWebhook.Parse(Encoding.UTF8.GetBytes(Inbound));

        Assert.Empty(batch.Receipts);
        Assert.Equal(["106540352242922"], batch.PhoneNumberIds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{not json")]
    [InlineData("[1,2,3]")]
    [InlineData("""{"object":"whatsapp_business_account"}""")]
    [InlineData("""{"object":"whatsapp_business_account","entry":{}}""")]
    [InlineData("""{"entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"1"},"statuses":[{"id":"wamid.X","status":"sent","timestamp":"yesterday"}]}}]}]}""")]
    public void Parse_MalformedBody_ThrowsInvalidWebhookPayload(string body) =>
        Assert.Throws<InvalidWebhookPayloadException>(() => WhatsAppWebhook.Parse(Encoding.UTF8.GetBytes(body)));
}
