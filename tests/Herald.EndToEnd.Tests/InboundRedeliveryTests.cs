using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.Channels.Callbacks;
using Herald.Channels.Providers;
using Herald.Channels.Sms;
using Herald.Channels.Sms.Smpp;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Herald.Core.Providers;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// A vendor that delivers the same inbound message again (no answer in time, a reconnect) gets one reply, one webhook
/// (issue #16): every channel's message as its parser reads it from the vendor's documented payload, given twice to the
/// host's one inbound door on real PostgreSQL. WhatsApp, Twilio and Telegram name their messages (wamid, MessageSid,
/// chat:message_id or the callback query id); an SMPP mobile-originated deliver_sm does not, and is named by what it is
/// within a window (<see cref="SmppReceipts.MoRedeliveryWindow"/>).
/// </summary>
public sealed class InboundRedeliveryTests(PostgresTwoWayHostFixture fixture) : IClassFixture<PostgresTwoWayHostFixture>
{
    private HeraldHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Smpp_MoDeliveredAgainAfterAReconnect_IsOneMessage_TheSameTextMuchLaterIsAnother()
    {
        var (tenant, client) = await Host.CreateTenantAsync("Redelivered MO");
        var account = await AccountAsync(client, "sms");
        var phone = TestData.Phone();
        var mo = new SmppShortMessage { SourceAddr = phone[1..], DestinationAddr = "4930555", EsmClass = 0, ShortMessage = Encoding.ASCII.GetBytes("YES") };
        var now = Host.Services.GetRequiredService<TimeProvider>().GetUtcNow();

        // The SMSC got no deliver_sm_resp: it binds again and delivers the same message, with a new sequence number.
        await AcceptAsync(account, SmppReceipts.ToInbound(mo, now));
        await AcceptAsync(account, SmppReceipts.ToInbound(mo, now + TimeSpan.FromSeconds(30)));
        await AcceptAsync(account, SmppReceipts.ToInbound(mo, now + SmppReceipts.MoRedeliveryWindow - TimeSpan.FromSeconds(1)));
        Assert.Single(await ConversationAsync(tenant, phone));

        // The customer writes YES again half an hour later: a new message.
        await AcceptAsync(account, SmppReceipts.ToInbound(mo, now + TimeSpan.FromMinutes(30)));
        Assert.Equal(2, (await ConversationAsync(tenant, phone)).Count);
    }

    [Fact]
    public async Task WhatsApp_Twilio_Telegram_TheSameWebhookTwice_IsOneMessageEach()
    {
        var (tenant, client) = await Host.CreateTenantAsync("Redelivered webhooks");
        var phone = TestData.Phone();
        var chat = TestData.ChatId();
        var now = Host.Services.GetRequiredService<TimeProvider>().GetUtcNow();

        // Meta, "Messages webhook reference", a text message.
        var whatsApp = Encoding.UTF8.GetBytes($$$"""
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
            "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"{{{phone[1..]}}}"}],
            "messages":[{"from":"{{{phone[1..]}}}","id":"wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1750090702",
            "type":"text","text":{"body":"Was that you?"}}]},"field":"messages"}]}]}
            """);
        // Twilio, "Twilio's request to your incoming message Webhook URL".
        var twilio = TwilioStatusCallback.ParseForm(
            $"ToCountry=US&SmsMessageSid=SM1342fe1b2c904d1ab04f0fc7a58abca9&NumMedia=0&SmsSid=SM1342fe1b2c904d1ab04f0fc7a58abca9&SmsStatus=received"
            + $"&Body=STOP+please&To=%2B15017122661&NumSegments=1&MessageSid=SM1342fe1b2c904d1ab04f0fc7a58abca9&AccountSid=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
            + $"&From={Uri.EscapeDataString(phone)}&ApiVersion=2010-04-01");
        // Telegram, an Update with a Message and one with a CallbackQuery.
        var telegramText = Encoding.UTF8.GetBytes($$$"""
            {"update_id":10000,"message":{"date":1441645532,"chat":{"id":{{{chat}}},"type":"private","first_name":"Test"},"message_id":1365,"text":"hello"}}
            """);
        var telegramKey = Encoding.UTF8.GetBytes("""
            {"update_id":10001,"callback_query":{"id":"4382bfdwdsb323b2d9","from":{"id":CHAT,"first_name":"Test"},"data":"block",
            "message":{"message_id":1364,"date":1441645500,"chat":{"id":CHAT,"type":"private"},"text":"Was this you?"}}}
            """.Replace("CHAT", chat, StringComparison.Ordinal));

        for (var delivery = 0; delivery < 2; delivery++)
        {
            var at = now + TimeSpan.FromMinutes(delivery);
            await AcceptAsync(await AccountAsync(client, "whatsapp"), Assert.Single(WhatsAppWebhook.Parse(whatsApp).Messages).Message);
            await AcceptAsync(await AccountAsync(client, "sms"), TwilioStatusCallback.ParseIncoming(twilio, at)!);
            var telegram = await AccountAsync(client, "telegram");
            await AcceptAsync(telegram, TelegramWebhook.ParseUpdate(telegramText, at).Message!);
            await AcceptAsync(telegram, TelegramWebhook.ParseUpdate(telegramKey, at).Message!);
        }

        var fromPhone = await ConversationAsync(tenant, phone);
        Assert.Equal(2, fromPhone.Count);
        Assert.Single(fromPhone, m => m.Channel == Core.Notifications.Channel.WhatsApp);
        Assert.Single(fromPhone, m => m.Channel == Core.Notifications.Channel.Sms);
        Assert.Equal(2, (await ConversationAsync(tenant, chat)).Count);
    }

    private Task AcceptAsync(ProviderAccount account, InboundMessage message) =>
        Host.Services.GetRequiredService<IInboundMessageSink>().AcceptAsync(account, [message], Ct);

    private Task<IReadOnlyList<Core.Notifications.CustomerMessage>> ConversationAsync(Guid tenant, string address) =>
        Host.Services.GetRequiredService<ICustomerMessageStore>().ListConversationAsync(tenant, "nobody", [address], null, 100, Ct);

    private async Task<ProviderAccount> AccountAsync(HttpClient client, string channel)
    {
        var id = (await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.First(p => p.Str("channel") == channel)!.Str("id");
        return Host.Services.GetRequiredService<ProviderDirectory>().Find(Guid.Parse(id))!;
    }
}
