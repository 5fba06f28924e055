using System.Security.Cryptography;
using System.Text.Json;
using Herald.Channels.Push;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Sandbox;
using Herald.Sandbox.Fcm;
using Herald.Sandbox.Mailbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Tests.Push;

/// <summary>The FCM connector against Herald's own FCM simulator on a real Kestrel host, with provisioned service accounts.</summary>
public sealed class FcmSandboxTests : IAsyncLifetime
{
    private WebApplication _host = null!;
    private ServiceProvider _services = null!;
    private string _sandboxUrl = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FcmConnector Connector => _services.GetRequiredService<FcmConnector>();

    private FcmSimulator Simulator => _host.Services.GetRequiredService<FcmSimulator>();

    private SandboxMailbox Mailbox => _host.Services.GetRequiredService<SandboxMailbox>();

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Herald:Sandbox:Enabled"] = "true", ["Herald:Sandbox:SmtpPort"] = "-1" });
        builder.Services.AddHeraldSandbox(builder.Configuration);
        _host = builder.Build();
        _host.MapHeraldSandbox();
        await _host.StartAsync(Ct);
        _sandboxUrl = _host.Urls.First().TrimEnd('/') + "/sandbox";
        // Generous timeouts: the first exchange in a fresh process pays for JIT on a loaded machine.
        _services = TestHost.Services(null, ("Herald:Channels:HttpTimeout", "00:00:30"), ("Herald:Channels:SendTimeout", "00:00:30"));
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await _host.StopAsync(CancellationToken.None);
        await _host.DisposeAsync();
    }

    private ProviderAccount Account(Dictionary<string, string> settings) =>
        new(Guid.NewGuid(), Guid.NewGuid(), Channel.Push, FcmConnector.ConnectorKind, "Sandbox Push", JsonSerializer.Serialize(settings), 1, true, DateTimeOffset.UnixEpoch);

    [Fact]
    public async Task SendAsync_ProvisionedAccount_IsAcceptedAndTheCustomerReceivesIt()
    {
        var settings = Simulator.ProvisionServiceAccount(_sandboxUrl);
        settings["title"] = "Example Bank";
        var token = "fcm-token-" + Guid.NewGuid().ToString("N");

        var outcome = await Connector.SendAsync(TestHost.Message(token, "Your card was charged 25.00 EUR"), Account(settings), Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.StartsWith($"projects/{settings["project_id"]}/messages/0:", outcome.ProviderMessageId, StringComparison.Ordinal);
        var received = Assert.Single(Mailbox.Find("push", token));
        Assert.Equal("Your card was charged 25.00 EUR", received.Text);
        Assert.Equal("Example Bank", received.Subject);
        Assert.Equal(outcome.ProviderMessageId, received.ProviderMessageId);
        Assert.Equal(settings["project_id"], received.Account);
    }

    [Fact]
    public async Task SendAsync_ProjectInASandboxOutage_IsTransientUnavailable_UntilItEnds()
    {
        var settings = Simulator.ProvisionServiceAccount(_sandboxUrl);
        var outages = _host.Services.GetRequiredService<Herald.Sandbox.Outages.SandboxOutages>();
        outages.Start(settings["project_id"]);
        var token = "fcm-token-" + Guid.NewGuid().ToString("N");

        var down = await Connector.SendAsync(TestHost.Message(token), Account(settings), Ct);
        outages.End(settings["project_id"]);
        var back = await Connector.SendAsync(TestHost.Message(token), Account(settings), Ct);

        Assert.Equal((SendOutcomeKind.TransientFailure, "UNAVAILABLE"), (down.Kind, down.ErrorCode));
        Assert.Equal(SendOutcomeKind.Accepted, back.Kind);
        Assert.Single(Mailbox.Find("push", token));
    }

    [Fact]
    public async Task SendAsync_UnregisteredToken_IsPermanentAndNothingArrives()
    {
        var token = "fcm-token-" + Guid.NewGuid().ToString("N") + "-unregistered";

        var outcome = await Connector.SendAsync(TestHost.Message(token), Account(Simulator.ProvisionServiceAccount(_sandboxUrl)), Ct);

        Assert.Equal(SendOutcomeKind.PermanentFailure, outcome.Kind);
        Assert.Equal("UNREGISTERED", outcome.ErrorCode);
        Assert.Empty(Mailbox.Find("push", token));
    }

    [Fact]
    public async Task SendAsync_KeyNotTheProvisionedOne_IsRefusedAtTheTokenEndpointAsTransientAuth()
    {
        var settings = Simulator.ProvisionServiceAccount(_sandboxUrl);
        using var other = RSA.Create(2048);
        settings["private_key"] = other.ExportPkcs8PrivateKeyPem();
        var token = "fcm-token-" + Guid.NewGuid().ToString("N");

        var outcome = await Connector.SendAsync(TestHost.Message(token), Account(settings), Ct);

        Assert.Equal(SendOutcomeKind.TransientFailure, outcome.Kind);
        Assert.Equal("auth", outcome.ErrorCode);
        Assert.Contains("invalid_grant", outcome.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Invalid JWT Signature", outcome.Error, StringComparison.Ordinal);
        Assert.Empty(Mailbox.Find("push", token));
    }

    [Fact]
    public async Task SendAsync_AfterTheSandboxForgotItsTokens_RefreshesAndDelivers()
    {
        var account = Account(Simulator.ProvisionServiceAccount(_sandboxUrl));
        var first = await Connector.SendAsync(TestHost.Message("fcm-token-a"), account, Ct);
        Assert.True(first.Kind == SendOutcomeKind.Accepted, first.ToString());
        // As after a restart of the sandbox: the access token the connector cached is unknown now (401).
        Simulator.ForgetAccessTokens();

        var outcome = await Connector.SendAsync(TestHost.Message("fcm-token-b"), account, Ct);

        Assert.Equal(SendOutcomeKind.Accepted, outcome.Kind);
        Assert.Single(Mailbox.Find("push", "fcm-token-b"));
    }
}
