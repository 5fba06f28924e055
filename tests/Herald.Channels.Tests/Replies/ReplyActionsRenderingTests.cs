using Herald.Channels.Telegram;
using Herald.Channels.WhatsApp;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Sandbox;
using Herald.Sandbox.Mailbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Tests.Replies;

/// <summary>
/// Reply choices (issue #16) rendered the way each vendor documents them, sent through the real connectors to Herald's
/// own simulators on a real Kestrel host, which check the shapes as the vendors do: WhatsApp interactive reply buttons
/// ("Interactive reply buttons messages", Cloud API), a Telegram inline keyboard with callback_data (Bot API
/// InlineKeyboardMarkup). Push is checked in FcmConnectorTests.
/// </summary>
public sealed class ReplyActionsRenderingTests : IAsyncLifetime
{
    private static readonly NotificationAction[] ConfirmBlock = [new("confirm", "Yes, it was me"), new("block", "No, block my card")];

    private WebApplication _host = null!;
    private ServiceProvider _services = null!;
    private Uri _baseUrl = null!;

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Herald:Sandbox:Enabled"] = "true",
            ["Herald:Sandbox:ReceiptDelayMs"] = "10",
        });
        builder.Services.AddHeraldSandbox(builder.Configuration);
        _host = builder.Build();
        _host.MapHeraldSandbox();
        await _host.StartAsync(TestContext.Current.CancellationToken);
        _baseUrl = new Uri(_host.Urls.First());
        _services = TestHost.Services();
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await _host.StopAsync(CancellationToken.None);
        await _host.DisposeAsync();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private SandboxMailbox Mailbox => _host.Services.GetRequiredService<SandboxMailbox>();

    [Fact]
    public async Task WhatsApp_ActionsWithinLimits_GoAsInteractiveReplyButtonsTheSimulatorAccepts()
    {
        var connector = _services.GetRequiredService<WhatsAppCloudConnector>();
        var message = TestHost.Message("+4915112340030", "Card *1234: 950.00 EUR at Electronics. Was this you?") with { Actions = ConfirmBlock };

        var outcome = await connector.SendAsync(message, TestHost.WhatsAppAccount(new Uri(_baseUrl, "/sandbox/whatsapp")), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        var received = Assert.Single(Mailbox.Find("whatsapp", "+4915112340030"));
        Assert.Equal(message.Text, received.Text);
        Assert.Equal([new SandboxButton("confirm", "Yes, it was me"), new SandboxButton("block", "No, block my card")], received.Buttons!);
    }

    [Fact]
    public async Task WhatsApp_TitleOverTwentyCharacters_FallsBackToTextWithTheChoicesStated()
    {
        var connector = _services.GetRequiredService<WhatsAppCloudConnector>();
        var message = TestHost.Message("+4915112340031", "Was this you?") with
        {
            Actions = [new("confirm", "Yes, that payment was me")],
            ActionsText = "Reply 1 for Yes, that payment was me.",
        };

        var outcome = await connector.SendAsync(message, TestHost.WhatsAppAccount(new Uri(_baseUrl, "/sandbox/whatsapp")), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        var received = Assert.Single(Mailbox.Find("whatsapp", "+4915112340031"));
        Assert.Null(received.Buttons);
        Assert.Equal("Was this you?\n\nReply 1 for Yes, that payment was me.", received.Text);
    }

    [Fact]
    public async Task Telegram_Actions_GoAsAnInlineKeyboardWithCallbackData()
    {
        var connector = _services.GetRequiredService<TelegramBotConnector>();
        var message = TestHost.Message("4242", "Was this you?") with { Actions = ConfirmBlock };

        var outcome = await connector.SendAsync(message, TestHost.TelegramAccount(new Uri(_baseUrl, "/sandbox/telegram")), Ct);

        Assert.Equal(SendOutcomeKind.Delivered, outcome.Kind);
        var received = Assert.Single(Mailbox.Find("telegram", "4242"));
        Assert.Equal([new SandboxButton("confirm", "Yes, it was me"), new SandboxButton("block", "No, block my card")], received.Buttons!);
    }
}
