using System.Collections.Concurrent;
using System.Text.Json;
using Herald.Channels.Sms;
using Herald.Core.Delivery;
using Herald.Core.Providers;
using Herald.Sandbox;
using Herald.Sandbox.Mailbox;
using Herald.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Tests;

/// <summary>
/// The connector against Herald's own Twilio simulator on a real Kestrel host, with a stand-in for Herald's
/// <c>POST /callbacks/sms/{provider}</c> that verifies <c>X-Twilio-Signature</c> the way the Server must.
/// </summary>
public sealed class TwilioSmsSandboxTests : IAsyncLifetime
{
    private const string AuthToken = "sandbox-auth-token-0123456789";

    private readonly ConcurrentQueue<ProviderReceipt> _receipts = new();
    private readonly ConcurrentDictionary<Guid, ProviderAccount> _accounts = new();
    private readonly StoppableClock _sandboxClock = new();
    private WebApplication _host = null!;
    private ServiceProvider _services = null!;
    private string _baseUrl = null!;
    private int _badSignatures;

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Herald:Sandbox:Enabled"] = "true",
            ["Herald:Sandbox:ReceiptDelayMs"] = "10",
        });
        builder.Services.AddSingleton<TimeProvider>(_sandboxClock);
        builder.Services.AddHeraldSandbox(builder.Configuration);
        _host = builder.Build();
        _host.MapHeraldSandbox();
        _host.MapPost("/callbacks/sms/{provider}", async (HttpContext context, string provider) =>
        {
            // What the Server's endpoint does: the route names the provider account, whose settings hold the
            // auth token and the exact callback URL Twilio signed.
            if (!Guid.TryParse(provider, out var id) || !_accounts.TryGetValue(id, out var account))
            {
                return Results.NotFound();
            }

            var settings = TwilioSettings.Parse(account.Settings);
            var form = (await context.Request.ReadFormAsync(context.RequestAborted)).SelectMany(f => f.Value.Select(v => new KeyValuePair<string, string>(f.Key, v ?? ""))).ToList();
            var signature = context.Request.Headers[TwilioStatusCallback.SignatureHeader].ToString();
            var requestUrl = $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}{context.Request.Path}{context.Request.QueryString}";
            if (!TwilioStatusCallback.VerifySignature(settings.StatusCallbackFor(account.Id)!, form, signature, settings.AuthToken)
                || !TwilioStatusCallback.VerifySignature(requestUrl, form, signature, settings.AuthToken))
            {
                Interlocked.Increment(ref _badSignatures);
                return Results.StatusCode(403);
            }

            if (TwilioStatusCallback.Parse(form, DateTimeOffset.UnixEpoch) is { } receipt)
            {
                _receipts.Enqueue(receipt);
            }

            return Results.NoContent();
        });
        await _host.StartAsync(TestContext.Current.CancellationToken);
        _baseUrl = _host.Urls.First();
        _services = TestHost.Services();
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await _host.StopAsync(CancellationToken.None);
        await _host.DisposeAsync();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ProviderAccount Account()
    {
        var account = TestHost.TwilioAccount(
            new Uri(_baseUrl + "/sandbox/sms"), accountSid: "AC" + Guid.NewGuid().ToString("N"), authToken: AuthToken,
            statusCallbackUrl: _baseUrl + "/callbacks/sms/{providerId}");
        _accounts[account.Id] = account;
        return account;
    }

    private TwilioSmsConnector Connector => _services.GetRequiredService<TwilioSmsConnector>();

    [Fact]
    public async Task Send_NormalRecipient_AcceptedRecordedInMailboxThenSignedSentAndDeliveredCallbacks()
    {
        var message = TestHost.Message("+4915112340020", "Your code is 123456");

        var outcome = await Connector.SendAsync(message, Account(), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Matches("^SM[0-9a-f]{32}$", outcome.ProviderMessageId);
        var received = Assert.Single(_host.Services.GetRequiredService<SandboxMailbox>().Find("sms", "+4915112340020"));
        Assert.Equal("Your code is 123456", received.Text);
        Assert.Equal(outcome.ProviderMessageId, received.ProviderMessageId);

        await WaitUntilAsync(() => _receipts.Any(r => r.ProviderMessageId == outcome.ProviderMessageId && r.State == ReceiptState.Delivered), "delivered callback");
        Assert.Equal(
            [ReceiptState.Sent, ReceiptState.Delivered],
            _receipts.Where(r => r.ProviderMessageId == outcome.ProviderMessageId).Select(r => r.State).ToArray());
        Assert.Equal(0, Volatile.Read(ref _badSignatures));
    }

    [Fact]
    public async Task Send_RecipientEnding0004_IsPermanent21211WithoutMailboxEntry()
    {
        var outcome = await Connector.SendAsync(TestHost.Message("+4915112340004"), Account(), Ct);

        Assert.Equal(SendOutcomeKind.PermanentFailure, outcome.Kind);
        Assert.Equal("21211", outcome.ErrorCode);
        Assert.Empty(_host.Services.GetRequiredService<SandboxMailbox>().Find("sms", "+4915112340004"));
    }

    [Fact]
    public async Task Send_AboveSandboxRate_IsTransient20429WithRetryAfter()
    {
        using var http = new HttpClient { BaseAddress = new Uri(_baseUrl) };
        using var put = await http.PutAsync(
            "/sandbox/settings", new StringContent("""{"ratePerSecond":1}""", System.Text.Encoding.UTF8, "application/json"), Ct);
        put.EnsureSuccessStatusCode();
        var account = Account();
        // The sandbox limits per wall-clock second; stopped, its clock keeps the three sends in one second however
        // slowly a loaded machine makes them.
        _sandboxClock.Stop();

        var outcomes = new List<SendOutcome>();
        for (var i = 0; i < 3; i++)
        {
            outcomes.Add(await Connector.SendAsync(TestHost.Message("+4915112340030"), account, Ct));
        }

        var limited = outcomes.Where(o => o.Kind == SendOutcomeKind.TransientFailure).ToList();
        Assert.NotEmpty(limited);
        Assert.Equal(SendOutcomeKind.Accepted, outcomes[0].Kind);
        Assert.Equal(2, limited.Count);
        Assert.All(limited, o => Assert.Equal("20429", o.ErrorCode));
        Assert.All(limited, o => Assert.Equal(TimeSpan.FromSeconds(1), o.RetryAfter));
        using var stats = JsonDocument.Parse(await http.GetStringAsync("/sandbox/stats", Ct));
        Assert.Equal(limited.Count, stats.RootElement.GetProperty("sms").GetProperty("rateLimited").GetInt64());
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TestHost.Deadline);
        while (!condition())
        {
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"Timed out waiting for {what}");
            }

            await Task.Delay(10, CancellationToken.None);
        }
    }
}
