using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Sandbox.Tests;

public sealed class OutageTests : IAsyncLifetime
{
    private const string DownSid = "AC00000000000000000000000000000down";
    private const string UpSid = "AC000000000000000000000000000000up";

    private SandboxHost host = null!;

    public async ValueTask InitializeAsync() => host = await SandboxHost.StartAsync();

    public async ValueTask DisposeAsync() => await host.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Dictionary<string, string> Form(string to) => new() { ["To"] = to, ["From"] = "+15557122661", ["Body"] = "hi" };

    [Fact]
    public async Task Latency_OfOneAccount_HoldsOnlyItsSends_UntilThatTimeHasPassed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var slow = await SandboxHost.StartAsync(time: time);
        slow.Services.GetRequiredService<Outages.SandboxOutages>().SetLatency(DownSid, 5_000);

        var held = slow.SendSmsAsync(Form("+4915112340032"), DownSid);
        using (var other = await slow.SendSmsAsync(Form("+4915112340033"), UpSid))
        {
            Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        }

        // The clock stands still: the slow account's send cannot have been answered. Then time passes (in steps, as the
        // send may reach its delay after a step) until it is.
        Assert.False(held.IsCompleted);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!held.IsCompleted)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await Task.WhenAny(held, Task.Delay(50, deadline.Token));
        }

        using var answered = await held;
        Assert.Equal(HttpStatusCode.Created, answered.StatusCode);
    }

    [Fact]
    public async Task Outage_OneTwilioAccountAnswers503UntilCleared_OthersUnaffected()
    {
        using (var put = await host.Client.PutAsync($"/sandbox/outages/{DownSid}", null, Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        }

        using (var down = await host.SendSmsAsync(Form("+4915112340030"), DownSid))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            using var error = JsonDocument.Parse(await down.Content.ReadAsStringAsync(Ct));
            Assert.Equal(20503, error.RootElement.GetProperty("code").GetInt32());
        }

        using (var up = await host.SendSmsAsync(Form("+4915112340031"), UpSid))
        {
            Assert.Equal(HttpStatusCode.Created, up.StatusCode);
        }

        Assert.Equal([DownSid], JsonSerializer.Deserialize<string[]>(await host.Client.GetStringAsync("/sandbox/outages", Ct))!);
        // Nothing reached the customer from the account that is out.
        using (var messages = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=sms&to=%2B4915112340030", Ct)))
        {
            Assert.Empty(messages.RootElement.EnumerateArray());
        }

        using (var delete = await host.Client.DeleteAsync($"/sandbox/outages/{DownSid}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using (var again = await host.Client.DeleteAsync($"/sandbox/outages/{DownSid}", Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        }

        using var back = await host.SendSmsAsync(Form("+4915112340030"), DownSid);
        Assert.Equal(HttpStatusCode.Created, back.StatusCode);
    }

    [Fact]
    public async Task Outage_WhatsAppPhoneNumberId_AnswersGraph503()
    {
        using (await host.Client.PutAsync("/sandbox/outages/555000111", null, Ct))
        {
        }

        using var response = await host.SendWhatsAppAsync(
            new { messaging_product = "whatsapp", to = "4915112340032", type = "text", text = new { body = "hi" } }, "555000111");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.True(error.RootElement.GetProperty("error").GetProperty("is_transient").GetBoolean());
    }
}
