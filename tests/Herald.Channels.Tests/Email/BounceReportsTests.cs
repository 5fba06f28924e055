using System.Text;
using Herald.Channels.Email;
using Herald.Core.Delivery;

namespace Herald.Channels.Tests.Email;

/// <summary>Reading RFC 3464 bounce reports: which message, which outcome, and nothing from anything else.</summary>
public sealed class BounceReportsTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private const string Id = "01a24be3-d96d-79de-b8f6-090ffb1a71bd@herald";

    [Fact]
    public void FailedRecipient_IsABouncedFailure_ForTheEnvelopeId()
    {
        var receipt = Assert.Single(Parse(Report(envelopeId: Id, quotedId: null, action: "failed")));

        Assert.Equal(Id, receipt.ProviderMessageId);
        Assert.Equal(ReceiptState.Failed, receipt.State);
        Assert.Equal(BounceReports.BouncedCode, receipt.ErrorCode);
        // The status code, not the remote MTA's words (far-end text, and it quotes the address: issue #13).
        Assert.Equal("The recipient's mail server refused the message after the relay took it (status 5.1.1).", receipt.Error);
        Assert.Equal(Now, receipt.At);
    }

    [Fact]
    public void WithoutEnvelopeId_TheQuotedMessageIdNamesTheMessage()
    {
        var receipt = Assert.Single(Parse(Report(envelopeId: null, quotedId: "<" + Id + ">", action: "failed")));

        Assert.Equal(Id, receipt.ProviderMessageId);
    }

    [Fact]
    public void DeliveredRecipient_IsADeliveredReceipt()
    {
        Assert.Equal(ReceiptState.Delivered, Assert.Single(Parse(Report(Id, null, "delivered"))).State);
    }

    [Theory]
    [InlineData("delayed")]
    [InlineData("relayed")]
    [InlineData("expanded")]
    public void NonFinalActions_SayNothing(string action)
    {
        Assert.Empty(Parse(Report(Id, null, action)));
    }

    [Fact]
    public void ReportsForMailHeraldDidNotSend_AreIgnored()
    {
        Assert.Empty(Parse(Report("abc123@mx.bank.example", "<abc123@mx.bank.example>", "failed")));
    }

    [Fact]
    public void MailThatIsNotADeliveryStatusReport_IsIgnored()
    {
        var autoReply = "From: ana@example.com\r\nTo: bounces@bank.example\r\nSubject: Out of office\r\n"
            + "In-Reply-To: <" + Id + ">\r\n\r\nI am away until Monday.\r\n";

        Assert.Empty(Parse(autoReply));
        Assert.Empty(Parse(""));
    }

    [Fact]
    public void HostileInput_NeverThrows_AndYieldsNothing()
    {
        var random = new Random(3464);
        for (var i = 0; i < 300; i++)
        {
            var bytes = new byte[random.Next(0, 4096)];
            random.NextBytes(bytes);
            using var stream = new MemoryStream(bytes);
            Assert.Empty(BounceReports.Parse(stream, Now, TestContext.Current.CancellationToken));
        }

        // Deeply nested multiparts stop at the parser's depth limit instead of recursing.
        var nested = new StringBuilder("Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
        for (var depth = 1; depth < 2000; depth++)
        {
            nested.Append("--b").Append(depth - 1).Append("\r\nContent-Type: multipart/mixed; boundary=\"b").Append(depth).Append("\"\r\n\r\n");
        }

        Assert.Empty(Parse(nested.ToString()));

        // A truncated report: whatever is there is read, nothing invented.
        var full = Report(Id, null, "failed");
        Assert.Empty(Parse(full[..full.IndexOf("Action", StringComparison.Ordinal)]));
    }

    private static IReadOnlyList<Channels.ProviderReceipt> Parse(string message)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(message));
        return BounceReports.Parse(stream, Now, TestContext.Current.CancellationToken);
    }

    private static string Report(string? envelopeId, string? quotedId, string action) => $"""
        From: MAILER-DAEMON@mx.bank.example (Mail Delivery System)
        To: bounces+0123@bank.example
        Subject: Undelivered Mail Returned to Sender
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="R"

        --R
        Content-Type: text/plain

        This is the mail system at host mx.bank.example.

        --R
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.bank.example
        {(envelopeId is null ? "X-Postfix-Queue-ID: 4F2A1" : "Original-Envelope-Id: " + envelopeId)}

        Final-Recipient: rfc822; ana@example.com
        Action: {action}
        Status: 5.1.1
        Diagnostic-Code: smtp; 550 5.1.1 <ana@example.com>:
            Recipient address rejected: User unknown

        --R
        Content-Type: text/rfc822-headers

        From: Example Bank <alerts@bank.example>
        {(quotedId is null ? "X-Nothing: 1" : "Message-ID: " + quotedId)}
        Subject: News

        --R--

        """.ReplaceLineEndings("\r\n");
}
