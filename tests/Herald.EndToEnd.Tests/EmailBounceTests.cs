using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Bounces that arrive after the relay took the message (issue #3: "bounces → permanent failure"): the sandbox SMTP
/// server accepts <c>@late-bounce.test</c> and returns an RFC 3464 report to the account's VERP envelope sender,
/// which it hands to <c>/callbacks/email/{accountId}</c> with the account's bounce token, as a bank's mail system would.
/// </summary>
public sealed class EmailBounceTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private HeraldHost Host => fixture.Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EmailThatBouncesAfterAcceptance_FailsItsAttemptPermanently_AsBounced()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var email = $"gone.{Guid.NewGuid():N}@late-bounce.test";

        var id = await client.SendAsync(new { type = "service.news", channels = new[] { "email" }, customer = new { email }, data = new { text = "News" } });

        // The email step waits for the relay's acceptance; the bounce comes later and names the attempt.
        await client.WaitForStatusAsync(id, "delivered");
        var n = await TestData.EventuallyAsync(
            () => client.GetNotificationAsync(id), static n => n.Attempts()[0].Str("state") == "failed", Deadline, "the bounce report");
        var attempt = Assert.Single(n.Attempts());
        Assert.Equal("bounced", attempt.Str("errorCode"));
        Assert.Equal("permanent", attempt.Str("failureKind"));
        Assert.Contains("5.1.1", attempt.Str("error"), StringComparison.Ordinal);
        Assert.Empty(await client.SandboxMessagesAsync("email", email));
    }

    [Fact]
    public async Task EmailWaitingForDelivery_ThatBounces_FallsBackToSms()
    {
        var (_, client) = await Host.CreateTenantAsync();
        await RulesTests.PutAsync(client, """
            {"rules": [{"name": "email-confirmed", "then": {"channels": [{"channel": "email", "waitFor": "delivered", "timeout": "120s"}, "sms"]}}]}
            """);
        var phone = TestData.Phone();

        var id = await client.SendAsync(new
        {
            type = "service.news", customer = new { email = $"gone.{Guid.NewGuid():N}@late-bounce.test", phone }, data = new { text = "News" },
        });

        // Long before the 120 s timeout: only the bounce can have moved it on.
        var n = await client.WaitForStatusAsync(id, "delivered", Deadline);
        Assert.Equal("sms", n.Str("channel"));
        Assert.Equal("bounced", n.Attempts()[0].Str("errorCode"));
        Assert.Single(await client.SandboxMessagesAsync("sms", phone));
    }

    [Fact]
    public async Task BounceEndpoint_RefusesAWrongToken_AndIgnoresAReportForAnotherAccountsMessage()
    {
        var (_, clientA) = await Host.CreateTenantAsync("Bank A");
        var (_, clientB) = await Host.CreateTenantAsync("Bank B");
        var emailA = (await clientA.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Single(p => p.Str("channel") == "email")!.Str("id");
        var emailB = (await clientB.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Single(p => p.Str("channel") == "email")!.Str("id");
        var id = await clientA.SendAsync(new { type = "service.news", channels = new[] { "email" }, customer = new { email = $"ana.{Guid.NewGuid():N}@example.com" }, data = new { text = "News" } });
        var sent = await clientA.WaitForStatusAsync(id, "delivered");
        var messageId = sent.Attempts()[0].Str("providerMessageId");
        var report = Dsn(messageId);

        using (var noToken = await PostAsync(emailA, report, token: null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
            Assert.Equal("application/problem+json", noToken.Content.Headers.ContentType?.MediaType);
        }

        using (var wrongToken = await PostAsync(emailA, report, "not-the-sandbox-secret"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrongToken.StatusCode);
        }

        // Every sandbox account has its own bounce token (issue #13): bank A's does not open bank B's endpoint.
        var tokenA = BounceToken(emailA);
        var tokenB = BounceToken(emailB);
        Assert.NotEqual(tokenA, tokenB);
        using (var crossed = await PostAsync(emailB, report, tokenA))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, crossed.StatusCode);
        }

        // Bank B's endpoint and token cannot fail bank A's attempt.
        using (var otherAccount = await PostAsync(emailB, report, tokenB))
        {
            Assert.Equal(HttpStatusCode.NoContent, otherAccount.StatusCode);
        }

        Assert.Equal("sent", (await clientA.GetNotificationAsync(id)).Attempts()[0].Str("state"));

        // The right account: the report fails the attempt.
        using (var right = await PostAsync(emailA, report, tokenA))
        {
            Assert.Equal(HttpStatusCode.NoContent, right.StatusCode);
        }

        var after = await clientA.GetNotificationAsync(id);
        Assert.Equal("failed", after.Attempts()[0].Str("state"));
        Assert.Equal("delivered", after.Str("status"));
    }

    /// <summary>The account's bounce token as stored (the API redacts it), from the node's provider directory.</summary>
    private string BounceToken(string accountId) =>
        Herald.Channels.Email.SmtpSettings.Parse(Host.Services.GetRequiredService<Herald.Channels.Providers.ProviderDirectory>().Find(Guid.Parse(accountId))!.Settings).BounceToken!;

    private async Task<HttpResponseMessage> PostAsync(string accountId, string report, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/callbacks/email/{accountId}")
        {
            Content = new StringContent(report, Encoding.UTF8, "message/rfc822"),
        };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var client = Host.Client();
        return await client.SendAsync(request, Ct);
    }

    /// <summary>A Postfix-style DSN for <paramref name="messageId"/> (quoted in the headers part, no ENVID).</summary>
    private static string Dsn(string messageId) => $"""
        From: MAILER-DAEMON@mx.bank.example (Mail Delivery System)
        To: bounces@bank.example
        Subject: Undelivered Mail Returned to Sender
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

        --B1
        Content-Type: text/plain

        Your message could not be delivered.

        --B1
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.bank.example

        Final-Recipient: rfc822; ana@example.com
        Action: failed
        Status: 5.2.2
        Diagnostic-Code: smtp; 552 5.2.2 Mailbox full

        --B1
        Content-Type: text/rfc822-headers

        Message-ID: <{messageId}>
        Subject: News

        --B1--

        """.ReplaceLineEndings("\r\n");
}
