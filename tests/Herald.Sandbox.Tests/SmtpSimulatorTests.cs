using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Herald.Sandbox.Mailbox;

namespace Herald.Sandbox.Tests;

/// <summary>The SMTP simulator spoken to byte by byte, as a relay or swaks would.</summary>
public sealed class SmtpSimulatorTests : IAsyncLifetime
{
    private SandboxHost host = null!;

    public async ValueTask InitializeAsync() => host = await SandboxHost.StartAsync();

    public async ValueTask DisposeAsync() => await host.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Session_AuthLoginDotStuffingRsetNoop_RecordsMessageInMailbox()
    {
        await using var smtp = await RawSmtp.ConnectAsync(await PortAsync(), Ct);
        Assert.StartsWith("220 ", await smtp.ReadReplyAsync(Ct), StringComparison.Ordinal);
        Assert.Contains("250 ", await smtp.CommandAsync("EHLO client.example", Ct), StringComparison.Ordinal);
        Assert.StartsWith("334 ", await smtp.CommandAsync("AUTH LOGIN", Ct), StringComparison.Ordinal);
        Assert.StartsWith("334 ", await smtp.CommandAsync(Convert.ToBase64String("bank-a"u8), Ct), StringComparison.Ordinal);
        Assert.StartsWith("235 ", await smtp.CommandAsync(Convert.ToBase64String("pw"u8), Ct), StringComparison.Ordinal);
        Assert.StartsWith("250 ", await smtp.CommandAsync("MAIL FROM:<first@bank.example>", Ct), StringComparison.Ordinal);
        Assert.StartsWith("250 ", await smtp.CommandAsync("RSET", Ct), StringComparison.Ordinal);
        Assert.StartsWith("503 ", await smtp.CommandAsync("RCPT TO:<ana@customer.example>", Ct), StringComparison.Ordinal);
        Assert.StartsWith("250 ", await smtp.CommandAsync("NOOP", Ct), StringComparison.Ordinal);
        Assert.StartsWith("250 ", await smtp.CommandAsync("MAIL FROM:<alerts@bank.example> SIZE=200", Ct), StringComparison.Ordinal);
        Assert.StartsWith("550 5.1.1", await smtp.CommandAsync("RCPT TO:<gone@bounce.test>", Ct), StringComparison.Ordinal);
        Assert.StartsWith("250 ", await smtp.CommandAsync("RCPT TO:<ana@customer.example>", Ct), StringComparison.Ordinal);
        Assert.StartsWith("354 ", await smtp.CommandAsync("DATA", Ct), StringComparison.Ordinal);
        var reply = await smtp.CommandAsync(
            "From: Example Bank <alerts@bank.example>\r\nTo: ana@customer.example\r\nSubject: Hello\r\nMessage-ID: <m1@herald>\r\n\r\nline one\r\n..\r\n...dots\r\n.",
            Ct);
        Assert.StartsWith("250 2.0.0", reply, StringComparison.Ordinal);
        Assert.StartsWith("221 ", await smtp.CommandAsync("QUIT", Ct), StringComparison.Ordinal);

        var message = Assert.Single(Mailbox.Find("email"));
        Assert.Equal(("ana@customer.example", "Hello", "m1@herald", "bank-a"), (message.To, message.Subject, message.ProviderMessageId, message.Account));
        // The AUTH password as a hash, never shown: what tells Herald's tenant-scoped bridge whose mail it is (issue #19).
        Assert.Equal(SandboxMessage.CredentialOf("pw"), message.Credential);
        Assert.Equal("line one\n.\n..dots\n", message.Text?.ReplaceLineEndings("\n"));
        using var json = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/messages?channel=email&to=ana@customer.example", Ct));
        Assert.Equal("Hello", json.RootElement[0].GetProperty("subject").GetString());
        Assert.False(json.RootElement[0].TryGetProperty("credential", out _));
        using var stats = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/stats", Ct));
        Assert.Equal(1, stats.RootElement.GetProperty("email").GetProperty("accepted").GetInt64());
        Assert.Equal(1, stats.RootElement.GetProperty("email").GetProperty("rejected").GetInt64());
    }

    [Fact]
    public async Task LateBounce_IsAcceptedThenReturnedAsADsnToTheEnvelopeSender_UnlessNotifyNever()
    {
        await using var smtp = await RawSmtp.ConnectAsync(await PortAsync(), Ct);
        await smtp.ReadReplyAsync(Ct);
        Assert.Contains("250-DSN", await smtp.CommandAsync("EHLO client.example", Ct), StringComparison.Ordinal);
        Assert.StartsWith("250 ", await smtp.CommandAsync("MAIL FROM:<returns@bank.example> RET=HDRS ENVID=m2+40herald", Ct), StringComparison.Ordinal);
        Assert.StartsWith("250 ", await smtp.CommandAsync("RCPT TO:<gone@late-bounce.test> NOTIFY=FAILURE ORCPT=rfc822;gone@late-bounce.test", Ct), StringComparison.Ordinal);
        Assert.StartsWith("250 ", await smtp.CommandAsync("RCPT TO:<quiet@late-bounce.test> NOTIFY=NEVER", Ct), StringComparison.Ordinal);
        Assert.StartsWith("354 ", await smtp.CommandAsync("DATA", Ct), StringComparison.Ordinal);
        Assert.StartsWith("250 2.0.0", await smtp.CommandAsync("From: <alerts@bank.example>\r\nSubject: Hi\r\nMessage-ID: <m2@herald>\r\n\r\nhello\r\n.", Ct), StringComparison.Ordinal);

        // The relay took both; neither customer got it; one report went back to the sender.
        Assert.Empty(Mailbox.Find("email", "gone@late-bounce.test"));
        Assert.Empty(Mailbox.Find("email", "quiet@late-bounce.test"));
        var report = Assert.Single(Mailbox.Find("email", "returns@bank.example"));
        Assert.Equal("Undelivered Mail Returned to Sender", report.Subject);
        Assert.Contains("<gone@late-bounce.test>", report.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("quiet@", report.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void BounceReport_CarriesTheDecodedEnvelopeId_AndVerpSendersNameTheirAccount()
    {
        var account = Guid.NewGuid();
        Assert.Equal(account, Smtp.SmtpBounceReport.VerpAccount($"bounces+{account:N}@bank.example"));
        Assert.Null(Smtp.SmtpBounceReport.VerpAccount("bounces@bank.example"));
        Assert.Null(Smtp.SmtpBounceReport.VerpAccount("bounces+not-an-id@bank.example"));

        var envelopeId = Smtp.SmtpBounceReport.DecodeXtext("m2+40herald+2B+3Dx+4");
        Assert.Equal("m2@herald+=x+4", envelopeId);
        using var original = new MimeKit.MimeMessage { MessageId = "m2@herald", Subject = "Hi" };
        var report = Smtp.SmtpBounceReport.Build("sandbox", "bounces@bank.example", envelopeId, original, "gone@late-bounce.test", DateTimeOffset.UnixEpoch);

        using var parsed = MimeKit.MimeMessage.Load(new MemoryStream(report.Bytes), Ct);
        var status = Assert.Single(parsed.BodyParts.OfType<MimeKit.MessageDeliveryStatus>());
        Assert.Equal(envelopeId, status.StatusGroups[0]["Original-Envelope-Id"]);
        Assert.Equal("failed", status.StatusGroups[1]["Action"]);
        Assert.Equal("m2@herald", Assert.Single(parsed.BodyParts.OfType<MimeKit.TextRfc822Headers>()).Message?.MessageId);
    }

    [Fact]
    public async Task Session_CommandsOutOfOrder_AreRefusedWith503()
    {
        await using var smtp = await RawSmtp.ConnectAsync(await PortAsync(), Ct);
        await smtp.ReadReplyAsync(Ct);

        Assert.StartsWith("503 ", await smtp.CommandAsync("MAIL FROM:<a@bank.example>", Ct), StringComparison.Ordinal);
        Assert.StartsWith("250 ", await smtp.CommandAsync("HELO client.example", Ct), StringComparison.Ordinal);
        Assert.StartsWith("503 ", await smtp.CommandAsync("DATA", Ct), StringComparison.Ordinal);
        Assert.StartsWith("500 ", await smtp.CommandAsync("BOGUS", Ct), StringComparison.Ordinal);
        Assert.Empty(Mailbox.Find("email"));
    }

    [Fact]
    public async Task GetSmtp_Enabled_ReportsLoopbackHostAndPort()
    {
        using var json = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/smtp", Ct));

        Assert.Equal("127.0.0.1", json.RootElement.GetProperty("host").GetString());
        Assert.InRange(json.RootElement.GetProperty("port").GetInt32(), 1, 65535);
    }

    [Fact]
    public async Task GetSmtp_Disabled_ReportsNullPort()
    {
        await using var disabled = await SandboxHost.StartAsync(new Dictionary<string, string?> { ["Herald:Sandbox:SmtpPort"] = "-1" });

        using var json = JsonDocument.Parse(await disabled.Client.GetStringAsync("/sandbox/smtp", Ct));

        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("port").ValueKind);
    }

    private SandboxMailbox Mailbox => (SandboxMailbox)host.Services.GetService(typeof(SandboxMailbox))!;

    private async Task<int> PortAsync()
    {
        using var json = JsonDocument.Parse(await host.Client.GetStringAsync("/sandbox/smtp", Ct));
        return json.RootElement.GetProperty("port").GetInt32();
    }

    private sealed class RawSmtp(TcpClient client, StreamReader reader, Stream stream) : IAsyncDisposable
    {
        public static async Task<RawSmtp> ConnectAsync(int port, CancellationToken ct)
        {
            var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port, ct);
            var stream = client.GetStream();
            return new RawSmtp(client, new StreamReader(stream, Encoding.ASCII), stream);
        }

        public async Task<string> CommandAsync(string line, CancellationToken ct)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"), ct);
            return await ReadReplyAsync(ct);
        }

        /// <summary>A whole (possibly multi-line) reply: lines "250-…" continue, "250 …" ends it.</summary>
        public async Task<string> ReadReplyAsync(CancellationToken ct)
        {
            var reply = new StringBuilder();
            while (true)
            {
                var line = await reader.ReadLineAsync(ct) ?? throw new IOException("connection closed");
                reply.Append(line).Append('\n');
                if (line.Length < 4 || line[3] != '-')
                {
                    return line.Length >= 4 && reply.Length > line.Length + 1 ? reply.ToString() : line;
                }
            }
        }

        public ValueTask DisposeAsync()
        {
            reader.Dispose();
            client.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
