using Herald.Channels.Email;
using Herald.Core.Delivery;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;

namespace Herald.Channels.Tests.Email;

/// <summary>One aiosmtpd per test class: starting the interpreter takes seconds here. A missing server fails the
/// tests; it never skips them.</summary>
public sealed class AiosmtpdFixture : IAsyncLifetime
{
    private AiosmtpdServer? _server;

    public AiosmtpdServer Server => _server ?? throw new InvalidOperationException("aiosmtpd has not started");

    public async ValueTask InitializeAsync() => _server = await AiosmtpdServer.StartAsync(CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>The SMTP connector against a real SMTP server not written here (aiosmtpd, Debian's python3-aiosmtpd), started by the tests.</summary>
public sealed class RealSmtpServerTests(AiosmtpdFixture fixture) : IClassFixture<AiosmtpdFixture>, IAsyncLifetime
{
    private ServiceProvider _services = null!;

    public ValueTask InitializeAsync()
    {
        // Reset state before each test, not after.
        Server.Clear();
        _services = TestHost.Services(null, ("Herald:Channels:HttpTimeout", "00:00:10"), ("Herald:Channels:SendTimeout", "00:00:10"));
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _services.DisposeAsync();

    private SmtpEmailConnector Connector => _services.GetRequiredService<SmtpEmailConnector>();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private AiosmtpdServer Server => fixture.Server;

    [Fact]
    public async Task SendAsync_ToAiosmtpd_ArrivesWithFromToSubjectMessageIdAndBothParts()
    {
        var message = TestHost.Message("ana@customer.example", "Card *1234: 25.00 EUR at <Coffee & Bar>\nAvailable: 1.000,00 €");

        var outcome = await Connector.SendAsync(message, SmtpSandbox.Account(Server.Port, fromName: "Example Bank"), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        var raw = Assert.Single(await Server.WaitForMessagesAsync(1, Ct));
        using var received = MimeMessage.Load(new MemoryStream(raw), Ct);
        Assert.Equal("alerts@bank.example", received.Headers["X-Envelope-From"]);
        Assert.Equal("ana@customer.example", received.Headers["X-Envelope-To"]);
        var from = Assert.IsType<MailboxAddress>(Assert.Single(received.From));
        Assert.Equal(("Example Bank", "alerts@bank.example"), (from.Name, from.Address));
        Assert.Equal("ana@customer.example", Assert.IsType<MailboxAddress>(Assert.Single(received.To)).Address);
        Assert.Equal("Message from Example Bank", received.Subject);
        Assert.Equal(outcome.ProviderMessageId, received.MessageId);
        Assert.Equal("auto-generated", received.Headers["Auto-Submitted"]);
        Assert.Equal("multipart/alternative", received.Body?.ContentType.MimeType);
        Assert.Equal(message.Text, received.TextBody?.ReplaceLineEndings("\n").TrimEnd('\n'));
        Assert.NotNull(received.HtmlBody);
        Assert.Contains("&lt;Coffee &amp; Bar&gt;<br>", received.HtmlBody, StringComparison.Ordinal);
        Assert.Contains("1.000,00 €", received.HtmlBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_TwoMessages_BothArriveOverOnePooledConnection()
    {
        var account = SmtpSandbox.Account(Server.Port);

        var first = await Connector.SendAsync(TestHost.Message("ana@customer.example", "first"), account, Ct);
        var second = await Connector.SendAsync(TestHost.Message("jan@customer.example", "second"), account, Ct);

        Assert.Equal([SendOutcomeKind.Accepted, SendOutcomeKind.Accepted], [first.Kind, second.Kind]);
        var texts = (await Server.WaitForMessagesAsync(2, Ct))
            .Select(raw => MimeMessage.Load(new MemoryStream(raw), Ct).TextBody?.Trim() ?? string.Empty)
            .ToArray();
        Assert.Equal(["first", "second"], texts);
    }

    [Fact]
    public async Task SendAsync_ServerRejectsData550_IsPermanent()
    {
        var outcome = await Connector.SendAsync(TestHost.Message("ana@reject.test"), SmtpSandbox.Account(Server.Port), Ct);

        Assert.Equal(SendOutcomeKind.PermanentFailure, outcome.Kind);
        Assert.Equal("550", outcome.ErrorCode);
        // The reply code in Herald's words; the relay's own text is not shown (issue #13).
        Assert.Equal("SMTP relay replied 550: message refused", outcome.Error);
    }

    [Fact]
    public async Task SendAsync_ServerDefersData451_IsTransient()
    {
        var outcome = await Connector.SendAsync(TestHost.Message("ana@defer.test"), SmtpSandbox.Account(Server.Port), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("451", outcome.ErrorCode);
    }

    [Fact]
    public async Task SendAsync_LoginAgainstServerWithoutAuth_IsTransientAccountFault()
    {
        var outcome = await Connector.SendAsync(TestHost.Message("ana@customer.example"), SmtpSandbox.Account(Server.Port, "user", "pass"), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("unsupported", outcome.ErrorCode);
        Assert.NotNull(outcome.RetryAfter);
    }
}
