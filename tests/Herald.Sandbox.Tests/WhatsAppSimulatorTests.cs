using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Sandbox.Tests;

public sealed class WhatsAppSimulatorTests : IAsyncLifetime
{
    private SandboxHost host = null!;

    public async ValueTask InitializeAsync() => host = await SandboxHost.StartAsync();

    public async ValueTask DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task SendText_ValidRequest_ReturnsMetaShapedResponseWithWamid()
    {
        using var response = await host.SendWhatsAppAsync(SandboxHost.Text("+4915112340010"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var root = json.RootElement;
        Assert.Equal("whatsapp", root.GetProperty("messaging_product").GetString());
        Assert.Equal("+4915112340010", root.GetProperty("contacts")[0].GetProperty("input").GetString());
        Assert.Equal("4915112340010", root.GetProperty("contacts")[0].GetProperty("wa_id").GetString());
        Assert.StartsWith("wamid.", root.GetProperty("messages")[0].GetProperty("id").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendTemplate_ValidRequest_ReturnsWamidAndRecordsTemplate()
    {
        var body = new
        {
            messaging_product = "whatsapp",
            to = "4915112340011",
            type = "template",
            template = new
            {
                name = "card_transaction",
                language = new { code = "de" },
                components = new object[]
                {
                    new { type = "body", parameters = new object[] { new { type = "text", text = "10.00 EUR" }, new { type = "text", text = "REWE" } } },
                },
            },
        };

        using var response = await host.SendWhatsAppAsync(body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var wamid = json.RootElement.GetProperty("messages")[0].GetProperty("id").GetString();
        using var messages = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=whatsapp&to=%2B4915112340011", TestContext.Current.CancellationToken));
        var message = Assert.Single(messages.RootElement.EnumerateArray());
        Assert.Equal("+4915112340011", message.GetProperty("to").GetString());
        Assert.Equal(wamid, message.GetProperty("providerMessageId").GetString());
        Assert.Equal(JsonValueKind.Null, message.GetProperty("text").ValueKind);
        var template = message.GetProperty("template");
        Assert.Equal("card_transaction", template.GetProperty("name").GetString());
        Assert.Equal("de", template.GetProperty("language").GetString());
        Assert.Equal(["10.00 EUR", "REWE"], template.GetProperty("parameters").EnumerateArray().Select(p => p.GetString()!).ToArray());
    }

    // Cloud API "Interactive reply buttons messages": at most 3 buttons, titles of at most 20 characters, unique ids.
    [Theory]
    [InlineData("Yes, that payment was me", "block")]
    [InlineData("Yes", "confirm")]
    public async Task SendInteractive_ButtonsOutsideMetasLimits_AreRefusedLikeTheGraphApi(string firstTitle, string secondId)
    {
        var body = new
        {
            messaging_product = "whatsapp",
            to = "4915112340012",
            type = "interactive",
            interactive = new
            {
                type = "button",
                body = new { text = "Was this you?" },
                action = new { buttons = new[] { Button("confirm", firstTitle), Button(secondId, "No") } },
            },
        };

        using var response = await host.SendWhatsAppAsync(body);

        var valid = firstTitle.Length <= 20 && secondId != "confirm";
        Assert.Equal(valid ? HttpStatusCode.OK : HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task SendInteractive_ValidButtons_AreRecordedForTheSimulatedCustomer()
    {
        var body = new
        {
            messaging_product = "whatsapp",
            to = "4915112340013",
            type = "interactive",
            interactive = new
            {
                type = "button",
                body = new { text = "Was this you?" },
                action = new { buttons = new[] { Button("confirm", "Yes, it was me"), Button("block", "No, block it") } },
            },
        };

        using var response = await host.SendWhatsAppAsync(body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var messages = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=whatsapp&to=%2B4915112340013", TestContext.Current.CancellationToken));
        var message = Assert.Single(messages.RootElement.EnumerateArray());
        Assert.Equal("Was this you?", message.GetProperty("text").GetString());
        Assert.Equal(["confirm", "block"], message.GetProperty("buttons").EnumerateArray().Select(b => b.GetProperty("id").GetString()!).ToArray());
    }

    private static object Button(string id, string title) => new { type = "reply", reply = new { id, title } };

    [Fact]
    public async Task Webhooks_NormalRecipient_SentThenDeliveredWithValidSignature()
    {
        var wamid = await host.SendTextAndGetWamidAsync("+4915112340020");

        await SandboxHost.WaitUntilAsync(() => host.StatusesOf(wamid).Any(s => s.Status == "delivered"), "delivered status");

        var statuses = host.StatusesOf(wamid);
        Assert.Equal(["sent", "delivered"], statuses.Select(s => s.Status).ToArray());
        Assert.All(statuses, s => Assert.Equal("4915112340020", s.RecipientId));
        Assert.All(statuses, s => Assert.True(long.TryParse(s.Timestamp, out _)));
        Assert.Equal(0, host.BadSignatures);
    }

    [Fact]
    public async Task Webhooks_RecipientEnding0001_AcceptedThenFailedWith131026()
    {
        var wamid = await host.SendTextAndGetWamidAsync("+4915112340001");

        await SandboxHost.WaitUntilAsync(() => host.StatusesOf(wamid).Count > 0, "failed status");

        var status = Assert.Single(host.StatusesOf(wamid));
        Assert.Equal("failed", status.Status);
        Assert.Equal(131026, status.ErrorCode);
        Assert.Equal("Message undeliverable", status.ErrorTitle);
    }

    [Fact]
    public async Task Webhooks_RecipientEnding0002_SentButNeverDelivered()
    {
        var silent = await host.SendTextAndGetWamidAsync("+4915112340002");
        var control = await host.SendTextAndGetWamidAsync("+4915112340030");

        // The control message was sent after the 0002 one; once its delivered receipt arrived,
        // a delivered receipt for 0002 would have arrived too.
        await SandboxHost.WaitUntilAsync(() => host.StatusesOf(control).Any(s => s.Status == "delivered"), "control delivered");

        Assert.Equal(["sent"], host.StatusesOf(silent).Select(s => s.Status).ToArray());
    }

    [Fact]
    public async Task Send_RecipientEnding0003_FailsTwiceWith5xxThenAccepts()
    {
        var codes = new List<int>();
        var graphCodes = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await host.SendWhatsAppAsync(SandboxHost.Text("+4915112340003"));
            codes.Add((int)response.StatusCode);
            if (!response.IsSuccessStatusCode)
            {
                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
                graphCodes.Add(json.RootElement.GetProperty("error").GetProperty("code").GetInt32());
            }
        }

        Assert.Equal([500, 500, 200], codes);
        Assert.Equal([131000, 131000], graphCodes);
    }

    // Meta's customer-service window: free-form only within 24 hours of the customer's last message to the number.
    [Fact]
    public async Task Send_RecipientEnding0005_FreeFormRefusedWith131047_UntilTheCustomerWrites_TemplateAlwaysGoes()
    {
        const string To = "+4915112340005";
        var simulator = host.Services.GetRequiredService<WhatsApp.WhatsAppSimulator>();

        using (var closed = await host.SendWhatsAppAsync(SandboxHost.Text(To)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, closed.StatusCode);
            using var json = JsonDocument.Parse(await closed.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            Assert.Equal(131047, json.RootElement.GetProperty("error").GetProperty("code").GetInt32());
        }

        using (var template = await host.SendWhatsAppAsync(new
        {
            messaging_product = "whatsapp", to = To, type = "template", template = new { name = "fraud_alert", language = new { code = "en_US" } },
        }))
        {
            Assert.Equal(HttpStatusCode.OK, template.StatusCode);
        }

        // The customer wrote to another business number: this one's window stays closed.
        simulator.CustomerWrote("999", To[1..], TimeProvider.System.GetUtcNow());
        using (var other = await host.SendWhatsAppAsync(SandboxHost.Text(To)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, other.StatusCode);
        }

        simulator.CustomerWrote("1234567890", To[1..], TimeProvider.System.GetUtcNow());
        using var open = await host.SendWhatsAppAsync(SandboxHost.Text(To));
        Assert.Equal(HttpStatusCode.OK, open.StatusCode);
    }

    [Fact]
    public async Task Send_MissingBearer_Returns401WithOAuthError190()
    {
        using var response = await host.SendWhatsAppAsync(SandboxHost.Text("+4915112340040"), token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var error = json.RootElement.GetProperty("error");
        Assert.Equal(190, error.GetProperty("code").GetInt32());
        Assert.Equal("OAuthException", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("fbtrace_id").GetString()));
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("""{"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}""")]
    [InlineData("""{"messaging_product":"whatsapp","to":"4915112340050","type":"carrier_pigeon"}""")]
    [InlineData("""{"messaging_product":"whatsapp","to":"4915112340050","type":"text","text":{}}""")]
    public async Task Send_InvalidBody_Returns400WithGraphError100(string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/sandbox/whatsapp/v23.0/1234567890/messages")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "t");

        using var response = await host.Client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var error = json.RootElement.GetProperty("error");
        Assert.Equal(100, error.GetProperty("code").GetInt32());
        Assert.Equal("whatsapp", error.GetProperty("error_data").GetProperty("messaging_product").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("error_data").GetProperty("details").GetString()));
    }

    [Fact]
    public async Task Webhooks_ReceiverFailsTransiently_StatusesRetriedNotLost()
    {
        host.FailNextWebhooks(2);

        var wamid = await host.SendTextAndGetWamidAsync("+4915112340060");

        await SandboxHost.WaitUntilAsync(() => host.StatusesOf(wamid).Any(s => s.Status == "delivered"), "delivered after retries");
        Assert.True(host.FailedWebhookAnswers >= 2);
        Assert.Equal(["sent", "delivered"], host.StatusesOf(wamid).Select(s => s.Status).ToArray());
    }
}
