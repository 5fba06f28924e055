using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Testing;
using Telegram.Bot;
using Telegram.Bot.Exceptions;

namespace Herald.Sandbox.Tests;

// Own host: the rate setting is process-wide for the sandbox instance. The sandbox limits per wall-clock second; its
// clock is stopped, so every burst below lands in one second however slowly a loaded machine sends it.
public sealed class RateLimitTests : IAsyncLifetime
{
    private SandboxHost host = null!;

    public async ValueTask InitializeAsync()
    {
        var clock = new StoppableClock();
        clock.Stop();
        host = await SandboxHost.StartAsync(new Dictionary<string, string?> { ["Herald:Sandbox:RatePerSecond"] = "2" }, clock);
    }

    public async ValueTask DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task WhatsAppSend_AboveRatePerSecond_Returns130429AndIsCounted()
    {
        var responses = new List<(HttpStatusCode Status, string Body)>();
        for (var i = 0; i < 6; i++)
        {
            using var response = await host.SendWhatsAppAsync(SandboxHost.Text($"+49151123401{i:00}"), phoneNumberId: "555000111");
            responses.Add((response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)));
        }

        // Six sends in one second with room for two: the last four are refused.
        var refused = responses.Where(r => r.Status != HttpStatusCode.OK).ToList();
        Assert.True(refused.Count >= 2, $"expected refusals, got {refused.Count}");
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK], responses.Take(2).Select(r => r.Status));
        Assert.Equal(4, refused.Count);
        Assert.All(refused, r =>
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
            using var json = JsonDocument.Parse(r.Body);
            Assert.Equal(130429, json.RootElement.GetProperty("error").GetProperty("code").GetInt32());
        });

        using var stats = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/stats", TestContext.Current.CancellationToken));
        var whatsapp = stats.RootElement.GetProperty("whatsapp");
        Assert.Equal(refused.Count, whatsapp.GetProperty("rateLimited").GetInt64());
        Assert.Equal(6 - refused.Count, whatsapp.GetProperty("accepted").GetInt64());
        Assert.True(whatsapp.GetProperty("accounts").GetProperty("555000111").GetProperty("maxPerSecond").GetInt64() <= 2);
    }

    [Fact]
    public async Task TelegramSendMessage_AboveRatePerSecond_ApiRequestExceptionCarriesRetryAfter()
    {
        var bot = new TelegramBotClient(
            new TelegramBotClientOptions("4242:rate-limited-bot", host.BaseUrl) { RetryThreshold = 0 });

        var exception = await Assert.ThrowsAsync<ApiRequestException>(async () =>
        {
            for (var i = 0; i < 6; i++)
            {
                await bot.SendMessage(777001, $"hello {i}", cancellationToken: TestContext.Current.CancellationToken);
            }
        });

        Assert.Equal(429, exception.ErrorCode);
        Assert.StartsWith("Too Many Requests: retry after", exception.Message, StringComparison.Ordinal);
        Assert.NotNull(exception.Parameters?.RetryAfter);
        Assert.True(exception.Parameters!.RetryAfter >= 1);
    }

    [Fact]
    public async Task PutSettings_RateZero_LiftsTheLimit()
    {
        using var put = await host.Client.PutAsJsonAsync("/sandbox/settings", new { ratePerSecond = 0 }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        for (var i = 0; i < 10; i++)
        {
            using var response = await host.SendWhatsAppAsync(SandboxHost.Text($"+49151123402{i:00}"), phoneNumberId: "555000222");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }
}
