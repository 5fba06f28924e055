using System.Net;
using System.Text.Json;
using Telegram.Bot;
using Telegram.Bot.Exceptions;
using Telegram.Bot.Types.Enums;

namespace Herald.Sandbox.Tests;

public sealed class TelegramSimulatorTests : IAsyncLifetime
{
    private const string Token = "123456789:AAH-sandbox-token";
    private SandboxHost host = null!;
    private TelegramBotClient bot = null!;

    public async ValueTask InitializeAsync()
    {
        host = await SandboxHost.StartAsync();
        bot = new TelegramBotClient(new TelegramBotClientOptions(Token, host.BaseUrl) { RetryThreshold = 0 });
    }

    public async ValueTask DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task GetMe_OfficialClient_ReturnsBotUserWithIdFromToken()
    {
        var me = await bot.GetMe(TestContext.Current.CancellationToken);

        Assert.True(me.IsBot);
        Assert.Equal(123456789, me.Id);
        Assert.False(string.IsNullOrEmpty(me.Username));
    }

    [Fact]
    public async Task SendMessage_OfficialClient_ReturnsMessageAndRecordsIt()
    {
        var first = await bot.SendMessage(987654321, "Your OTP is 123456", ParseMode.Html, cancellationToken: TestContext.Current.CancellationToken);
        var second = await bot.SendMessage("987654321", "Second", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Your OTP is 123456", first.Text);
        Assert.Equal(987654321, first.Chat.Id);
        Assert.Equal(ChatType.Private, first.Chat.Type);
        Assert.Equal(123456789, first.From!.Id);
        Assert.True(second.Id > first.Id);
        using var messages = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=telegram&to=987654321", TestContext.Current.CancellationToken));
        Assert.Equal(
            ["Your OTP is 123456", "Second"],
            messages.RootElement.EnumerateArray().Select(m => m.GetProperty("text").GetString()!).ToArray());
    }

    [Fact]
    public async Task SendMessage_ChatIdEnding403_ThrowsForbiddenBlockedByUser()
    {
        var exception = await Assert.ThrowsAsync<ApiRequestException>(
            () => bot.SendMessage(555403, "hello", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(403, exception.ErrorCode);
        Assert.Equal("Forbidden: bot was blocked by the user", exception.Message);
    }

    [Fact]
    public async Task SendMessage_EmptyText_Returns400MessageTextIsEmpty()
    {
        using var response = await host.Client.PostAsync(
            $"/sandbox/telegram/bot{Token}/sendMessage",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["chat_id"] = "42", ["text"] = "" }),
            TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.False(json.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(400, json.RootElement.GetProperty("error_code").GetInt32());
        Assert.Equal("Bad Request: message text is empty", json.RootElement.GetProperty("description").GetString());
    }

    [Fact]
    public async Task SendMessage_QueryStringGet_IsAccepted()
    {
        using var response = await host.Client.GetAsync(
            $"/sandbox/telegram/bot{Token}/sendMessage?chat_id=31337&text=hi%20there", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("hi there", json.RootElement.GetProperty("result").GetProperty("text").GetString());
    }

    [Fact]
    public async Task UnknownMethod_Returns404NotFound()
    {
        using var response = await host.Client.PostAsync($"/sandbox/telegram/bot{Token}/launchRocket", null, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("Not Found", json.RootElement.GetProperty("description").GetString());
        Assert.Equal(404, json.RootElement.GetProperty("error_code").GetInt32());
    }

    [Fact]
    public async Task Webhook_SetInfoDelete_OfficialClientRoundTrips()
    {
        var ct = TestContext.Current.CancellationToken;
        await bot.SetWebhook("https://herald.example/callbacks/telegram/s3cret", cancellationToken: ct);
        var info = await bot.GetWebhookInfo(ct);
        Assert.Equal("https://herald.example/callbacks/telegram/s3cret", info.Url);

        await bot.DeleteWebhook(cancellationToken: ct);
        info = await bot.GetWebhookInfo(ct);
        Assert.Equal(string.Empty, info.Url);
    }
}
