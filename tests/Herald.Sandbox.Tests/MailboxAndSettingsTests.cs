using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Herald.Sandbox.Tests;

public sealed class MailboxAndSettingsTests : IAsyncLifetime
{
    private SandboxHost host = null!;

    public async ValueTask InitializeAsync() => host = await SandboxHost.StartAsync();

    public async ValueTask DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task GetMessages_FilterByChannelAndTo_ReturnsOnlyMatches()
    {
        var ct = TestContext.Current.CancellationToken;
        await host.SendTextAndGetWamidAsync("4915112349001");
        await host.SendTextAndGetWamidAsync("+4915112349002");
        using var telegram = await host.Client.GetAsync("/sandbox/telegram/bot1:x/sendMessage?chat_id=4915112349001&text=tg", ct);
        Assert.Equal(HttpStatusCode.OK, telegram.StatusCode);

        using var all = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages", ct));
        using var whatsapp = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=whatsapp", ct));
        using var one = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=whatsapp&to=%2B4915112349001", ct));
        using var unencodedPlus = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=whatsapp&to=+4915112349001", ct));

        Assert.Equal(3, all.RootElement.GetArrayLength());
        Assert.Equal(2, whatsapp.RootElement.GetArrayLength());
        var message = Assert.Single(one.RootElement.EnumerateArray());
        Assert.Equal(1, unencodedPlus.RootElement.GetArrayLength());
        Assert.Equal("whatsapp", message.GetProperty("channel").GetString());
        Assert.Equal("+4915112349001", message.GetProperty("to").GetString());
        Assert.True(DateTimeOffset.TryParse(message.GetProperty("time").GetString(), out _));
    }

    [Fact]
    public async Task DeleteMessages_AfterSends_ClearsMailbox()
    {
        var ct = TestContext.Current.CancellationToken;
        await host.SendTextAndGetWamidAsync("+4915112349010");

        using var delete = await host.Client.DeleteAsync("/sandbox/messages", ct);

        Assert.True(delete.IsSuccessStatusCode);
        using var all = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages", ct));
        Assert.Equal(0, all.RootElement.GetArrayLength());
    }

    [Fact]
    public async Task PutSettings_PartialUpdate_ChangesOnlyGivenFields()
    {
        var ct = TestContext.Current.CancellationToken;
        using var put = await host.Client.PutAsJsonAsync("/sandbox/settings", new { latencyMs = 1, failureRate = 0.0 }, ct);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        using var settings = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/settings", ct));
        Assert.Equal(1, settings.RootElement.GetProperty("latencyMs").GetInt32());
        Assert.Equal(10, settings.RootElement.GetProperty("receiptDelayMs").GetInt32());
        Assert.Equal(0, settings.RootElement.GetProperty("ratePerSecond").GetInt32());

        using var reset = await host.Client.PutAsJsonAsync("/sandbox/settings", new { latencyMs = 0 }, ct);
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
    }

    [Theory]
    [InlineData("""{"latencyMs":-1}""", "latencyMs")]
    [InlineData("""{"ratePerSecond":-5}""", "ratePerSecond")]
    [InlineData("""{"receiptDelayMs":-1}""", "receiptDelayMs")]
    [InlineData("""{"failureRate":1.5}""", "failureRate")]
    public async Task PutSettings_InvalidValue_Returns400ProblemDetails(string body, string field)
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await host.Client.PutAsync(
            "/sandbox/settings", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        Assert.True(json.RootElement.GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task GetStats_AfterSends_CountsAcceptedPerChannel()
    {
        var ct = TestContext.Current.CancellationToken;
        await host.SendTextAndGetWamidAsync("+4915112349020");
        await host.SendTextAndGetWamidAsync("+4915112349021");

        using var stats = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/stats", ct));

        var whatsapp = stats.RootElement.GetProperty("whatsapp");
        Assert.Equal(2, whatsapp.GetProperty("accepted").GetInt64());
        Assert.True(whatsapp.GetProperty("maxPerSecond").GetInt64() >= 1);
    }
}
