using Herald.Channels.Email;
using Herald.Core.Delivery;
using Herald.Sandbox.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Channels.Tests.Email;

/// <summary>The SMTP connector against Herald's SMTP simulator (a real SMTP server on a socket).</summary>
public sealed class SmtpEmailConnectorTests : IAsyncLifetime
{
    private SmtpSandbox _sandbox = null!;
    private ServiceProvider _services = null!;

    public async ValueTask InitializeAsync()
    {
        _sandbox = await SmtpSandbox.StartAsync();
        _services = TestHost.Services(null, ("Herald:Channels:HttpTimeout", "00:00:10"), ("Herald:Channels:SendTimeout", "00:00:10"));
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    private SmtpEmailConnector Connector => _services.GetRequiredService<SmtpEmailConnector>();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SendAsync_ToSandbox_IsAcceptedWithHeraldMessageIdAndArrivesWithTextHtmlAndSubject()
    {
        var message = TestHost.Message("ana@customer.example", "Card *1234: 25.00 EUR at <Coffee & Bar>\nBalance: 100.00 EUR");

        var outcome = await Connector.SendAsync(message, SmtpSandbox.Account(_sandbox.Port), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Equal($"{message.AttemptId:D}@herald", outcome.ProviderMessageId);
        var received = Assert.Single(_sandbox.Mailbox.Find("email", "ana@customer.example"));
        Assert.Equal(outcome.ProviderMessageId, received.ProviderMessageId);
        Assert.Equal("Message from Example Bank", received.Subject);
        Assert.Equal("\"Example Bank\" <alerts@bank.example>", received.From);
        Assert.Equal(message.Text, received.Text!.ReplaceLineEndings("\n").TrimEnd('\n'));
        Assert.Contains("Card *1234: 25.00 EUR at &lt;Coffee &amp; Bar&gt;<br>", received.Html, StringComparison.Ordinal);
        Assert.Contains("Balance: 100.00 EUR", received.Html, StringComparison.Ordinal);
        Assert.Equal("alerts@bank.example", received.Account);
    }

    [Fact]
    public async Task SendAsync_NonAsciiTextAndDotLines_ArriveUnchanged()
    {
        // Dot-stuffing: a line that is just "." or starts with "." must survive the DATA phase.
        const string text = "Überweisung: 1.000,00 € an Café Zürich\n.\n..hidden\nEnde";

        var outcome = await Connector.SendAsync(TestHost.Message("jan@customer.example", text), SmtpSandbox.Account(_sandbox.Port), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        var received = Assert.Single(_sandbox.Mailbox.Find("email", "jan@customer.example"));
        Assert.Equal(text, received.Text!.ReplaceLineEndings("\n").TrimEnd('\n'));
    }

    [Fact]
    public async Task SendAsync_BounceTestRecipient_IsPermanent550AndNothingArrives()
    {
        var outcome = await Connector.SendAsync(TestHost.Message("nobody@bounce.test"), SmtpSandbox.Account(_sandbox.Port), Ct);

        Assert.Equal(SendOutcomeKind.PermanentFailure, outcome.Kind);
        Assert.Equal("550", outcome.ErrorCode);
        // The reply code in Herald's words; the relay's own text ("User unknown") is not shown (issue #13).
        Assert.Equal("SMTP relay replied 550: recipient refused", outcome.Error);
        Assert.Empty(_sandbox.Mailbox.Find("email"));
        Assert.Equal(1, _sandbox.Stats.Channel("email").Rejected);
    }

    [Fact]
    public async Task SendAsync_AccountInASandboxOutage_IsTransient451_UntilItEnds()
    {
        var account = SmtpSandbox.Account(_sandbox.Port, username: "relay-user", password: "x");
        _sandbox.Outages.Start("relay-user");

        var down = await Connector.SendAsync(TestHost.Message("ana@customer.example"), account, Ct);
        _sandbox.Outages.End("relay-user");
        var back = await Connector.SendAsync(TestHost.Message("ana@customer.example"), account, Ct);

        Assert.Equal((SendOutcomeKind.TransientFailure, "451"), (down.Kind, down.ErrorCode));
        Assert.Equal(SendOutcomeKind.Accepted, back.Kind);
        Assert.Single(_sandbox.Mailbox.Find("email"));
    }

    [Fact]
    public async Task SendAsync_AfterBounce_SameConnectionStillDelivers()
    {
        var account = SmtpSandbox.Account(_sandbox.Port, maxConnections: 1);

        var bounce = await Connector.SendAsync(TestHost.Message("nobody@bounce.test"), account, Ct);
        var ok = await Connector.SendAsync(TestHost.Message("ana@customer.example"), account, Ct);

        Assert.Equal(SendOutcomeKind.PermanentFailure, bounce.Kind);
        Assert.Equal(SendOutcomeKind.Accepted, ok.Kind);
        Assert.Equal(1, _sandbox.Simulator.ConnectionsAccepted);
    }

    [Fact]
    public async Task SendAsync_TwoSends_ReuseOneConnection()
    {
        var account = SmtpSandbox.Account(_sandbox.Port);

        var first = await Connector.SendAsync(TestHost.Message("ana@customer.example"), account, Ct);
        var second = await Connector.SendAsync(TestHost.Message("jan@customer.example"), account, Ct);

        Assert.Equal(SendOutcomeKind.Accepted, first.Kind);
        Assert.Equal(SendOutcomeKind.Accepted, second.Kind);
        Assert.Equal(1, _sandbox.Simulator.ConnectionsAccepted);
        Assert.Equal(2, _sandbox.Mailbox.Find("email").Count);
    }

    [Fact]
    public async Task SendAsync_ManyConcurrentSends_StayWithinMaxConnections()
    {
        var account = SmtpSandbox.Account(_sandbox.Port, maxConnections: 3);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            Connector.SendAsync(TestHost.Message($"customer{i}@customer.example"), account, Ct)));

        Assert.All(outcomes, o => Assert.Equal(SendOutcomeKind.Accepted, o.Kind));
        Assert.InRange(_sandbox.Simulator.ConnectionsAccepted, 1, 3);
        Assert.Equal(40, _sandbox.Mailbox.Find("email").Count);
    }

    [Fact]
    public async Task SendAsync_WithLogin_AuthenticatesAndRecordsTheUserAsAccount()
    {
        var outcome = await Connector.SendAsync(
            TestHost.Message("ana@customer.example"), SmtpSandbox.Account(_sandbox.Port, "bank-a", "secret"), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Equal("bank-a", Assert.Single(_sandbox.Mailbox.Find("email")).Account);
    }

    [Fact]
    public async Task SendAsync_RelayAnswers451_IsTransientAndConnectionIsKept()
    {
        var account = SmtpSandbox.Account(_sandbox.Port);
        _sandbox.Settings.Apply(new SandboxSettingsUpdate(null, null, null, 1.0, null));

        var failed = await Connector.SendAsync(TestHost.Message("ana@customer.example"), account, Ct);
        _sandbox.Settings.Apply(new SandboxSettingsUpdate(null, null, null, 0.0, null));
        var ok = await Connector.SendAsync(TestHost.Message("ana@customer.example"), account, Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, failed.Kind);
        Assert.Equal("451", failed.ErrorCode);
        Assert.Equal(SendOutcomeKind.Accepted, ok.Kind);
        Assert.Equal(1, _sandbox.Simulator.ConnectionsAccepted);
    }

    [Fact]
    public async Task SendAsync_NothingListening_IsTransientNetwork()
    {
        var outcome = await Connector.SendAsync(TestHost.Message("ana@customer.example"), SmtpSandbox.Account(SmtpSandbox.FreePort()), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("network", outcome.ErrorCode);
    }

    [Fact]
    public async Task SendAsync_ServerGoneAfterFirstSend_RetriesOnFreshConnectionAndIsTransient()
    {
        var account = SmtpSandbox.Account(_sandbox.Port);
        Assert.Equal(SendOutcomeKind.Accepted, (await Connector.SendAsync(TestHost.Message("ana@customer.example"), account, Ct)).Kind);

        await _sandbox.Simulator.StopAsync(Ct);
        var down = await Connector.SendAsync(TestHost.Message("ana@customer.example"), account, Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, down.Kind);
        Assert.Contains(down.ErrorCode, new[] { "network", "protocol" });
    }

    [Fact]
    public async Task SendAsync_CancelledWhileRelayIsSlow_ThrowsOperationCanceled()
    {
        _sandbox.Settings.Apply(new SandboxSettingsUpdate(60_000, null, null, null, null));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var send = Connector.SendAsync(TestHost.Message("ana@customer.example"), SmtpSandbox.Account(_sandbox.Port), cts.Token);
        await SpinUntilAsync(() => _sandbox.Simulator.ActiveConnections > 0);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
    }

    [Fact]
    public async Task SendAsync_AlreadyCancelled_ThrowsOperationCanceled()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => Connector.SendAsync(TestHost.Message("ana@customer.example"), SmtpSandbox.Account(_sandbox.Port), cts.Token));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-an-address")]
    [InlineData("two@a.example, three@b.example")]
    [InlineData("ana@customer.example\r\nBcc: all@x.example")]
    public async Task SendAsync_InvalidRecipient_IsPermanentInvalidAddress(string to)
    {
        var outcome = await Connector.SendAsync(TestHost.Message(to), SmtpSandbox.Account(_sandbox.Port), Ct);

        Assert.Equal(SendOutcomeKind.PermanentFailure, outcome.Kind);
        Assert.Equal("invalid_address", outcome.ErrorCode);
        Assert.Equal(0, _sandbox.Simulator.ConnectionsAccepted);
    }

    [Theory]
    [InlineData("""{"port":25,"security":"none","fromAddress":"alerts@bank.example"}""")]
    [InlineData("""{"host":"127.0.0.1","port":70000,"fromAddress":"alerts@bank.example"}""")]
    [InlineData("""{"host":"127.0.0.1","security":"tls13","fromAddress":"alerts@bank.example"}""")]
    [InlineData("""{"host":"127.0.0.1","fromAddress":"not an address"}""")]
    [InlineData("""{"host":"127.0.0.1","fromAddress":"Bank <alerts@bank.example>"}""")]
    [InlineData("""{"host":"127.0.0.1","username":"u","fromAddress":"alerts@bank.example"}""")]
    [InlineData("""{"host":"127.0.0.1","password":"p","fromAddress":"alerts@bank.example"}""")]
    [InlineData("""{"host":"127.0.0.1","fromAddress":"alerts@bank.example","maxConnections":0}""")]
    [InlineData("""{"host":"127.0.0.1","fromAddress":"alerts@bank.example","subject":"a\nBcc: x@y.z"}""")]
    [InlineData("""{"host":"127.0.0.1","port":"x","fromAddress":"alerts@bank.example"}""")]
    [InlineData("""{"host":"127.0.0.1","fromAddress":"alerts@bank.example","bounceAddress":"Bounces <b@bank.example>"}""")]
    [InlineData("""{"host":"127.0.0.1","fromAddress":"alerts@bank.example","bounceToken":"short"}""")]
    [InlineData("""[1,2]""")]
    [InlineData("""not json""")]
    public async Task SendAsync_InvalidSettings_IsTransientInvalidSettings(string settings)
    {
        var account = SmtpSandbox.Account(_sandbox.Port) with { Settings = settings };

        var outcome = await Connector.SendAsync(TestHost.Message("ana@customer.example"), account, Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("invalid_settings", outcome.ErrorCode);
    }

    [Fact]
    public async Task SendAsync_EnvelopeSenderIsTheAccountsBounceAddress_WhereALateBounceReportGoes()
    {
        var plain = SmtpSandbox.Account(_sandbox.Port);
        var settings = System.Text.Json.Nodes.JsonNode.Parse(plain.Settings)!.AsObject();
        settings["bounceAddress"] = "bounces+{accountId}@bank.example";
        var account = plain with { Settings = settings.ToJsonString() };

        var outcome = await Connector.SendAsync(TestHost.Message("gone@late-bounce.test"), account, Ct);

        // The relay took it (the sandbox announces DSN, so ENVID/NOTIFY were sent), then returned a report to the VERP
        // sender; this bare simulator has no Herald to hand it to, so it lands in the mailbox.
        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        var report = Assert.Single(_sandbox.Mailbox.Find("email", $"bounces+{account.Id:N}@bank.example"));
        Assert.Equal("Undelivered Mail Returned to Sender", report.Subject);
        Assert.Empty(_sandbox.Mailbox.Find("email", "gone@late-bounce.test"));
    }

    [Fact]
    public void Parse_Minimal_AppliesDefaults()
    {
        var settings = SmtpSettings.Parse("""{"host":"smtp.example","fromAddress":"alerts@bank.example","password":null}""");

        Assert.Equal(587, settings.Port);
        Assert.Equal(SmtpSecurity.StartTls, settings.Security);
        Assert.Null(settings.Username);
        Assert.Equal("Message from alerts@bank.example", settings.Subject);
        Assert.Equal(SmtpSettings.DefaultMaxConnections, settings.MaxConnections);
        Assert.Equal("alerts@bank.example", settings.EnvelopeSender(Guid.NewGuid()).Address);
        Assert.Null(settings.BounceToken);
    }

    [Fact]
    public void Parse_Full_ReadsEveryFieldAndToStringHidesPassword()
    {
        var settings = SmtpSettings.Parse("""
            {"host":"smtp.example","port":465,"security":"ssl","username":"relay-user","password":"p4ss","fromAddress":"alerts@bank.example",
             "fromName":"Example Bank","subject":"Your {fromName} alert","maxConnections":8}
            """);

        Assert.Equal(("smtp.example", 465, SmtpSecurity.Ssl, "relay-user", "p4ss"), (settings.Host, settings.Port, settings.Security, settings.Username, settings.Password));
        Assert.Equal("Your Example Bank alert", settings.Subject);
        Assert.Equal("\"Example Bank\" <alerts@bank.example>", settings.From.ToString());
        Assert.Equal(8, settings.MaxConnections);
        Assert.DoesNotContain("p4ss", settings.ToString(), StringComparison.Ordinal);
    }

    private static async Task SpinUntilAsync(Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(TestHost.Deadline);
        while (!condition())
        {
            await Task.Delay(5, deadline.Token);
        }
    }
}
