using System.Text;
using Herald.Channels.Sms;
using Herald.Channels.Sms.Smpp;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Herald.Core.Notifications;

namespace Herald.Channels.Tests.Replies;

/// <summary>
/// What customers send, read from the vendors' documented inbound payloads (issue #16). Fixtures are the vendors'
/// examples with their placeholders filled from the example values the same pages give.
/// </summary>
public sealed class InboundParsingTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);

    // Meta, WhatsApp Business Platform, "Interactive messages webhook reference" (button_reply), example values of its
    // parameter table (phone number id 106540352242922, button id cancel-button, context wamid.HBgLMTQxMjU1NTA4MjkV...).
    private const string InteractiveButtonReply = """
        {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp",
        "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
        "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
        "messages":[{"context":{"from":"15550783881","id":"wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="},
        "from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749854575",
        "type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"cancel-button","title":"Cancel"}}}]},
        "field":"messages"}]}]}
        """;

    // Meta, "Text messages webhook reference".
    private const string Text = """
        {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp",
        "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
        "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
        "messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUZCNjk4RjI1RTQwMzQ5RjYwQgA=","timestamp":"1749416383",
        "type":"text","text":{"body":"Does it come in another color?"}}]},"field":"messages"}]}]}
        """;

    // Meta, "Button messages webhook reference" (a template's quick-reply button).
    private const string TemplateButton = """
        {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp",
        "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
        "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
        "messages":[{"context":{"from":"15550783881","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBIyRkQxREU5RjRGMjAwQjFCMjYA"},
        "from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ4NDYyQUVGOTk5MUYwRkJGOAA=","timestamp":"1750091045",
        "type":"button","button":{"payload":"block","text":"No, block it"}}]},"field":"messages"}]}]}
        """;

    [Fact]
    public void WhatsApp_InteractiveButtonReply_IsTheTappedIdWithTheAnsweredWamid()
    {
        var batch = WhatsAppWebhook.Parse(Encoding.UTF8.GetBytes(InteractiveButtonReply));

        var (number, message) = Assert.Single(batch.Messages);
        Assert.Equal("106540352242922", number);
        Assert.Equal(["106540352242922"], batch.PhoneNumberIds);
        Assert.Empty(batch.Receipts);
        Assert.Equal(Channel.WhatsApp, message.Channel);
        Assert.Equal("+16505551234", message.From);
        Assert.Equal("cancel-button", message.ActionId);
        Assert.Equal("Cancel", message.Text);
        Assert.Equal("wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=", message.InReplyTo);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1749854575), message.At);
    }

    [Fact]
    public void WhatsApp_Text_IsTheBodyWithoutReference()
    {
        var (_, message) = Assert.Single(WhatsAppWebhook.Parse(Encoding.UTF8.GetBytes(Text)).Messages);

        Assert.Equal("Does it come in another color?", message.Text);
        Assert.Null(message.ActionId);
        Assert.Null(message.InReplyTo);
    }

    [Fact]
    public void WhatsApp_TemplateQuickReply_IsThePayload()
    {
        var (_, message) = Assert.Single(WhatsAppWebhook.Parse(Encoding.UTF8.GetBytes(TemplateButton)).Messages);

        Assert.Equal("block", message.ActionId);
        Assert.Equal("No, block it", message.Text);
        Assert.Equal("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBIyRkQxREU5RjRGMjAwQjFCMjYA", message.InReplyTo);
    }

    [Fact]
    public void WhatsApp_MediaMessage_IsIgnored_AndAMessageWithoutTimestampIsMalformed()
    {
        var image = Text.Replace("\"type\":\"text\",\"text\":{\"body\":\"Does it come in another color?\"}", "\"type\":\"image\",\"image\":{\"id\":\"1\"}", StringComparison.Ordinal);
        var noTime = Text.Replace("\"timestamp\":\"1749416383\",", "", StringComparison.Ordinal);

        Assert.Empty(WhatsAppWebhook.Parse(Encoding.UTF8.GetBytes(image)).Messages);
        Assert.Throws<InvalidWebhookPayloadException>(() => WhatsAppWebhook.Parse(Encoding.UTF8.GetBytes(noTime)));
    }

    // Telegram Bot API: an Update with a Message (https://core.telegram.org/bots/webhooks#testing-your-bot-with-updates).
    [Fact]
    public void Telegram_Message_IsTheTextWithTheAnsweredMessageWhenItIsAReply()
    {
        var update = TelegramWebhook.ParseUpdate(Encoding.UTF8.GetBytes("""
            {"update_id":10000,"message":{"date":1441645532,"chat":{"last_name":"Test Lastname","id":1111111,"type":"private","first_name":"Test Firstname","username":"Testusername"},
            "message_id":1365,"from":{"last_name":"Test Lastname","id":1111111,"first_name":"Test Firstname","username":"Testusername"},"text":"2",
            "reply_to_message":{"message_id":1364,"date":1441645500,"chat":{"id":1111111,"type":"private"},"text":"Was this you?"}}}
            """), Now);

        var message = update.Message!;
        Assert.Equal("1111111", message.From);
        Assert.Equal("1111111:1365", message.ProviderMessageId);
        Assert.Equal("2", message.Text);
        Assert.Equal("1111111:1364", message.InReplyTo);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1441645532), message.At);
    }

    // Telegram Bot API: an Update with a CallbackQuery (same page, "Callback Query").
    [Fact]
    public void Telegram_CallbackQuery_IsTheDataWithTheKeyboardMessage_AndTheQueryToAnswer()
    {
        var update = TelegramWebhook.ParseUpdate(Encoding.UTF8.GetBytes("""
            {"update_id":10000,"callback_query":{"id":"4382bfdwdsb323b2d9","from":{"last_name":"Test Lastname","type":"private","id":1111111,"first_name":"Test Firstname","username":"Testusername"},
            "data":"block","inline_message_id":"1234csdbsk4839",
            "message":{"message_id":1364,"date":1441645500,"chat":{"id":1111111,"type":"private"},"text":"Was this you?"}}}
            """), Now);

        var message = update.Message!;
        Assert.Equal("block", message.ActionId);
        Assert.Equal("1111111:1364", message.InReplyTo);
        Assert.Equal("4382bfdwdsb323b2d9", message.CallbackQueryId);
        Assert.Equal(Now, message.At);
    }

    // Twilio, "Twilio's request to your incoming message Webhook URL" (form parameters of an SMS).
    [Fact]
    public void Twilio_IncomingMessage_IsTheBody_AndAStatusCallbackIsNot()
    {
        var incoming = TwilioStatusCallback.ParseForm(
            "ToCountry=US&ToState=CA&SmsMessageSid=SM1342fe1b2c904d1ab04f0fc7a58abca9&NumMedia=0&ToCity=&FromZip=&SmsSid=SM1342fe1b2c904d1ab04f0fc7a58abca9" +
            "&FromState=CA&SmsStatus=received&FromCity=&Body=2&FromCountry=US&To=%2B15557122661&ToZip=&NumSegments=1" +
            "&MessageSid=SM1342fe1b2c904d1ab04f0fc7a58abca9&AccountSid=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX&From=%2B14155551234&ApiVersion=2010-04-01");
        var status = TwilioStatusCallback.ParseForm("MessageSid=SM1&MessageStatus=delivered&SmsStatus=delivered&From=%2B15557122661&To=%2B14155551234");

        var message = TwilioStatusCallback.ParseIncoming(incoming, Now)!;

        Assert.Equal(Channel.Sms, message.Channel);
        Assert.Equal("+14155551234", message.From);
        Assert.Equal("SM1342fe1b2c904d1ab04f0fc7a58abca9", message.ProviderMessageId);
        Assert.Equal("2", message.Text);
        Assert.Null(TwilioStatusCallback.ParseIncoming(status, Now));
    }

    // SMPP 3.4 §5.2.12: esm_class bits 2-5 are the message type; 0 is a mobile-originated message, 0x04 a receipt.
    [Fact]
    public void Smpp_MobileOriginatedDeliverSm_IsACustomerText_AReceiptIsNot()
    {
        var mo = new SmppShortMessage { SourceAddr = "4915112345678", EsmClass = 0x00, DataCoding = 0, ShortMessage = Encoding.ASCII.GetBytes("YES") };
        var receipt = mo with { EsmClass = 0x04 };

        var message = SmppReceipts.ToInbound(mo, Now);

        Assert.True(SmppReceipts.IsMobileOriginated(mo));
        Assert.False(SmppReceipts.IsMobileOriginated(receipt));
        Assert.Equal("+4915112345678", message.From);
        Assert.Equal("YES", message.Text);
        Assert.Equal(Channel.Sms, message.Channel);
    }

    // SMPP 3.4: a mobile-originated deliver_sm has no message id (receipted_message_id is for receipts), and an SMSC
    // that got no deliver_sm_resp delivers it again, with a new sequence_number after a reconnect.
    [Fact]
    public void Smpp_MobileOriginated_TheSameMessageDeliveredAgain_HasTheSameName_InThisWindowOrTheLast()
    {
        var mo = new SmppShortMessage
        {
            SourceAddr = "4915112345678", DestinationAddr = "4930555", EsmClass = 0x00, DataCoding = 0, ShortMessage = Encoding.ASCII.GetBytes("YES"),
        };
        var first = SmppReceipts.ToInbound(mo, Now);

        // Every moment of the next window: the redelivery's own id, or its earlier one, is the first's.
        for (var later = TimeSpan.Zero; later < SmppReceipts.MoRedeliveryWindow; later += TimeSpan.FromSeconds(30))
        {
            var again = SmppReceipts.ToInbound(mo, Now + later);
            Assert.True(again.ProviderMessageId == first.ProviderMessageId || again.EarlierId == first.ProviderMessageId, later.ToString());
        }

        // Another text, another sender, another handset reference, or the same text two windows later: another message.
        var other = SmppReceipts.ToInbound(mo with { ShortMessage = Encoding.ASCII.GetBytes("NO") }, Now);
        var otherSender = SmppReceipts.ToInbound(mo with { SourceAddr = "4915100000000" }, Now);
        var otherReference = SmppReceipts.ToInbound(mo with { Tlvs = [new SmppTlv(0x0204, [0, 7])] }, Now);
        var muchLater = SmppReceipts.ToInbound(mo, Now + (2 * SmppReceipts.MoRedeliveryWindow));
        foreach (var m in new[] { other, otherSender, otherReference, muchLater })
        {
            Assert.NotEqual(first.ProviderMessageId, m.ProviderMessageId);
            Assert.NotEqual(first.ProviderMessageId, m.EarlierId);
        }
    }
}
