using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Sandbox.Tests;

public sealed class TwilioSimulatorTests : IAsyncLifetime
{
    private SandboxHost host = null!;

    public async ValueTask InitializeAsync() => host = await SandboxHost.StartAsync();

    public async ValueTask DisposeAsync() => await host.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Dictionary<string, string> Form(string to, string body = "Your code is 123456", bool callback = true)
    {
        var form = new Dictionary<string, string> { ["To"] = to, ["From"] = "+15557122661", ["Body"] = body };
        if (callback)
        {
            form["StatusCallback"] = host.BaseUrl + "/callbacks/sms/0b7e4f2c-6d0a-4a51-9d5e-1f1f1f1f1f1f";
        }

        return form;
    }

    [Fact]
    public void TwilioRecipeOfTheTests_ReproducesTwilioPublishedExample()
    {
        // twilio.com/docs/usage/security: token 12345, this URL and these parameters sign to 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
        KeyValuePair<string, string>[] form =
        [
            new("CallSid", "CA1234567890ABCDE"), new("Caller", "+12349013030"), new("Digits", "1234"),
            new("From", "+12349013030"), new("To", "+18005551212"),
        ];

        Assert.Equal("0/KCTR6DLpKmkAf8muzZqo1nDgQ=", SandboxHost.TwilioRecipeSignature("https://mycompany.com/myapp.php?foo=1&bar=2", form.Reverse(), "12345"));
    }

    [Fact]
    public async Task Send_Valid_Returns201TwilioMessageResourceAndRecordsInMailbox()
    {
        using var response = await host.SendSmsAsync(Form("+4915112340020", "Grüße: 10.00 EUR"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var root = json.RootElement;
        var sid = root.GetProperty("sid").GetString()!;
        Assert.Matches("^SM[0-9a-f]{32}$", sid);
        Assert.Equal("queued", root.GetProperty("status").GetString());
        Assert.Equal("+4915112340020", root.GetProperty("to").GetString());
        Assert.Equal("+15557122661", root.GetProperty("from").GetString());
        Assert.Equal("Grüße: 10.00 EUR", root.GetProperty("body").GetString());
        Assert.Equal("1", root.GetProperty("num_segments").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("price").ValueKind);
        Assert.EndsWith("+0000", root.GetProperty("date_created").GetString(), StringComparison.Ordinal);
        Assert.Equal($"/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/{sid}.json", root.GetProperty("uri").GetString());
        using var messages = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=sms&to=%2B4915112340020", Ct));
        var message = Assert.Single(messages.RootElement.EnumerateArray());
        Assert.Equal(sid, message.GetProperty("providerMessageId").GetString());
        Assert.Equal("+4915112340020", message.GetProperty("to").GetString());
    }

    [Fact]
    public async Task Callbacks_ReceiverFailsTransiently_SentThenDeliveredRetriedAndSigned()
    {
        host.FailNextWebhooks(2);
        using var response = await host.SendSmsAsync(Form("+4915112340021"));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var sid = json.RootElement.GetProperty("sid").GetString();

        await SandboxHost.WaitUntilAsync(() => host.SmsCallbacks.Any(c => c["MessageSid"] == sid && c["MessageStatus"] == "delivered"), "delivered callback");

        var callbacks = host.SmsCallbacks.Where(c => c["MessageSid"] == sid).ToList();
        Assert.Equal(["sent", "delivered"], callbacks.Select(c => c["MessageStatus"]).ToArray());
        Assert.All(callbacks, c => Assert.Equal("+4915112340021", c["To"]));
        Assert.All(callbacks, c => Assert.Equal("AC0123456789abcdef0123456789abcdef", c["AccountSid"]));
        Assert.True(host.FailedWebhookAnswers >= 2);
        Assert.Equal(0, host.BadSignatures);
    }

    [Theory]
    [InlineData(null, "hi", 21604)]
    [InlineData("+4915112340030", null, 21602)]
    [InlineData("004915112340030", "hi", 21211)]
    [InlineData("+49 151 1234", "hi", 21211)]
    [InlineData("+4915112340004", "hi", 21211)]
    public async Task Send_Invalid_Returns400WithTwilioErrorCode(string? to, string? body, int code)
    {
        var form = new Dictionary<string, string> { ["From"] = "+15557122661" };
        if (to is not null)
        {
            form["To"] = to;
        }

        if (body is not null)
        {
            form["Body"] = body;
        }

        using var response = await host.SendSmsAsync(form);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(code, json.RootElement.GetProperty("code").GetInt32());
        Assert.Equal(400, json.RootElement.GetProperty("status").GetInt32());
        Assert.EndsWith(code.ToString(System.Globalization.CultureInfo.InvariantCulture), json.RootElement.GetProperty("more_info").GetString(), StringComparison.Ordinal);
        Assert.Empty(host.Services.GetRequiredService<Mailbox.SandboxMailbox>().Find("sms"));
    }

    [Fact]
    public async Task Send_WithoutBasicAuth_Returns401With20003()
    {
        using var response = await host.SendSmsAsync(Form("+4915112340040"), authenticate: false);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(20003, json.RootElement.GetProperty("code").GetInt32());
    }

    [Fact]
    public void Segments_Gsm7AndUcs2_CountLikeCarriers()
    {
        Assert.Equal(1, Sms.TwilioSimulator.Segments(new string('a', 160)));
        Assert.Equal(2, Sms.TwilioSimulator.Segments(new string('a', 161)));
        Assert.Equal(1, Sms.TwilioSimulator.Segments(new string('ж', 70)));
        Assert.Equal(2, Sms.TwilioSimulator.Segments(new string('ж', 71)));
    }
}
