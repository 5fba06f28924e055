using System.Net;
using System.Security.Cryptography;
using System.Text;
using Herald.Channels.Email;
using Herald.Channels.Sms;
using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;

namespace Herald.Channels.Tests.Callbacks;

/// <summary>Meta's status webhook, signed with the account's app secret (X-Hub-Signature-256).</summary>
public sealed class WhatsAppCallbackComplianceTests : CallbackComplianceTests
{
    private static readonly ProviderAccount Wa = TestHost.WhatsAppAccount(new Uri("https://graph.facebook.com"));

    protected override string Kind => WhatsAppCloudConnector.ConnectorKind;

    protected override ProviderAccount Account => Wa;

    protected override string ContentType => "application/json";

    // Meta's "messages" webhook reference, status shape; the account's phone number id.
    protected override byte[] GenuineBody => Encoding.UTF8.GetBytes("""
        {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[
          {"id":"wamid.A","status":"delivered","timestamp":"1750857390","recipient_id":"16505551234"},
          {"id":"wamid.B","status":"read","timestamp":"1750857400","recipient_id":"16505551234"}
        ]},"field":"messages"}]}]}
        """);

    protected override IReadOnlyList<ProviderReceipt> ExpectedReceipts =>
    [
        new("wamid.A", ReceiptState.Delivered, DateTimeOffset.FromUnixTimeSeconds(1750857390)),
        new("wamid.B", ReceiptState.Read, DateTimeOffset.FromUnixTimeSeconds(1750857400)),
    ];

    protected override string CredentialHeader => WhatsAppWebhook.SignatureHeader;

    protected override HttpStatusCode TakenStatus => HttpStatusCode.OK;

    protected override HttpStatusCode RefusedStatus => HttpStatusCode.Unauthorized;

    protected override string Credential(ProviderAccount account, Uri url, byte[] body) => Sign(body, "s3cret");

    protected override string ForgedCredential(ProviderAccount account, Uri url, byte[] body) => Sign(body, "another-app-secret");

    private static string Sign(byte[] body, string secret) => "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
}

/// <summary>Twilio's status callback, signed with the auth token over the configured callback URL (X-Twilio-Signature).</summary>
public sealed class TwilioCallbackComplianceTests : CallbackComplianceTests
{
    private static readonly ProviderAccount Sms = TestHost.TwilioAccount(new Uri("https://api.twilio.com"));

    protected override string Kind => TwilioSmsConnector.ConnectorKind;

    protected override ProviderAccount Account => Sms;

    protected override string ContentType => "application/x-www-form-urlencoded";

    protected override byte[] GenuineBody => Encoding.UTF8.GetBytes(
        "SmsSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&SmsStatus=undelivered&MessageStatus=undelivered&To=%2B15558675310"
        + "&MessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&AccountSid=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX&From=%2B15557122661&ErrorCode=30003&ApiVersion=2010-04-01");

    protected override IReadOnlyList<ProviderReceipt> ExpectedReceipts =>
        [new("SM1f0e8ae6ade43cb3c0ce4525424e404f", ReceiptState.Failed, Now, "30003", "Twilio reported the message undelivered (error 30003)")];

    protected override string CredentialHeader => TwilioStatusCallback.SignatureHeader;

    protected override HttpStatusCode TakenStatus => HttpStatusCode.NoContent;

    protected override HttpStatusCode RefusedStatus => HttpStatusCode.Forbidden;

    // Signed over the URL the account configured (what Twilio was told), not the one the request arrives on.
    protected override string Credential(ProviderAccount account, Uri url, byte[] body) =>
        TwilioStatusCallback.Sign(TwilioSettings.Parse(account.Settings).StatusCallbackFor(account.Id)!, TwilioStatusCallback.ParseForm(Encoding.UTF8.GetString(body)), "your_auth_token");

    protected override string ForgedCredential(ProviderAccount account, Uri url, byte[] body) =>
        TwilioStatusCallback.Sign(TwilioSettings.Parse(account.Settings).StatusCallbackFor(account.Id)!, TwilioStatusCallback.ParseForm(Encoding.UTF8.GetString(body)), "not_the_auth_token");
}

/// <summary>A bounce report handed in by the bank's mail system with the account's bounce token as a bearer token.</summary>
public sealed class BounceCallbackComplianceTests : CallbackComplianceTests
{
    private const string Token = "5f0c9a1e7b3d42c8a6e1f0b9d3c7a2e4";
    private const string MessageId = "01a24be3-d96d-79de-b8f6-090ffb1a71bd@herald";

    private static readonly ProviderAccount Smtp = new(
        Guid.NewGuid(), Guid.NewGuid(), Channel.Email, SmtpEmailConnector.ConnectorKind, "mail",
        $$"""{"host":"127.0.0.1","port":2525,"security":"none","fromAddress":"alerts@bank.example","bounceToken":"{{Token}}"}""",
        1, true, DateTimeOffset.UnixEpoch);

    protected override string Kind => SmtpEmailConnector.ConnectorKind;

    protected override ProviderAccount Account => Smtp;

    protected override string ContentType => "message/rfc822";

    protected override byte[] GenuineBody => Encoding.UTF8.GetBytes($"""
        From: MAILER-DAEMON@mx.bank.example (Mail Delivery System)
        To: bounces+0123@bank.example
        Subject: Undelivered Mail Returned to Sender
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="R"

        --R
        Content-Type: text/plain

        This is the mail system at host mx.bank.example.

        --R
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.bank.example
        Original-Envelope-Id: {MessageId}

        Final-Recipient: rfc822; ana@example.com
        Action: failed
        Status: 5.1.1

        --R--

        """.ReplaceLineEndings("\r\n"));

    protected override IReadOnlyList<ProviderReceipt> ExpectedReceipts =>
        [new(MessageId, ReceiptState.Failed, Now, BounceReports.BouncedCode, "The recipient's mail server refused the message after the relay took it (status 5.1.1).")];

    protected override string CredentialHeader => "Authorization";

    protected override HttpStatusCode TakenStatus => HttpStatusCode.NoContent;

    protected override HttpStatusCode RefusedStatus => HttpStatusCode.Unauthorized;

    protected override string Credential(ProviderAccount account, Uri url, byte[] body) => "Bearer " + Token;

    protected override string ForgedCredential(ProviderAccount account, Uri url, byte[] body) => "Bearer " + Token[..^1] + "0";
}

/// <summary>Telegram's webhook: the secret token header must be the account's webhook secret. Updates carry no
/// receipts (Telegram reports none): a genuine one is acknowledged and yields nothing.</summary>
public sealed class TelegramCallbackComplianceTests : CallbackComplianceTests
{
    private static readonly ProviderAccount Bot = TestHost.TelegramAccount(new Uri("https://api.telegram.org"));

    protected override string Kind => TelegramBotConnector.ConnectorKind;

    protected override ProviderAccount Account => Bot;

    protected override string ContentType => "application/json";

    protected override byte[] GenuineBody => Encoding.UTF8.GetBytes("""
        {"update_id":10000,"message":{"message_id":1365,"date":1441645532,"chat":{"id":1111111,"type":"private","first_name":"Test"},"from":{"id":1111111,"is_bot":false,"first_name":"Test"},"text":"/start"}}
        """);

    protected override IReadOnlyList<ProviderReceipt> ExpectedReceipts => [];

    protected override string CredentialHeader => TelegramWebhook.SecretHeader;

    protected override HttpStatusCode TakenStatus => HttpStatusCode.OK;

    protected override HttpStatusCode RefusedStatus => HttpStatusCode.Unauthorized;

    protected override string Credential(ProviderAccount account, Uri url, byte[] body) => "whsec";

    protected override string ForgedCredential(ProviderAccount account, Uri url, byte[] body) => "whsed";
}
