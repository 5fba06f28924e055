using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests;

/// <summary>Push through the sandbox's FCM simulator on PostgreSQL.</summary>
public sealed class PostgresPushDeliveryTests(PipelineHostFixture fixture)
    : PushDeliveryTests(() => fixture.Host), IClassFixture<PipelineHostFixture>;

/// <summary>The same on the embedded SQLite backend.</summary>
public sealed class SqlitePushDeliveryTests(SqlitePipelineHostFixture fixture)
    : PushDeliveryTests(() => fixture.Host), IClassFixture<SqlitePipelineHostFixture>;

/// <summary>
/// A customer reachable only by push: the tenant's sandbox FCM account (a provisioned service account whose JWTs the
/// simulator verifies) delivers it; a token FCM reports UNREGISTERED fails the notification permanently.
/// </summary>
public abstract class PushDeliveryTests(Func<HeraldHost> host)
{
    private HeraldHost Host => host();

    private static string PushToken(string suffix = "") => "fcm:" + Guid.NewGuid().ToString("N") + suffix;

    [Fact]
    public async Task Notification_WithOnlyAPushToken_IsDeliveredAsPushInTheSandbox()
    {
        var (_, client) = await Host.CreateTenantAsync("Push Bank");
        var token = PushToken();

        var id = await client.SendAsync(new { type = "account.balance", customer = new { pushToken = token }, data = new { text = "Your balance is 100.00 EUR" } });

        var n = await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal("push", n.Str("channel"));
        // A loaded machine may time out a first try (transient, retried); every try is on push.
        var attempts = n.Attempts();
        Assert.All(attempts, a => Assert.Equal("push", a.Str("channel")));
        var attempt = attempts[^1];
        // FCM has no delivery receipts: its acceptance is the attempt's last word.
        Assert.Equal("sent", attempt.Str("state"));
        Assert.StartsWith("projects/herald-sandbox-", attempt.Str("providerMessageId"), StringComparison.Ordinal);
        var received = Assert.Single(await client.SandboxMessagesAsync("push", token), m => m.Str("providerMessageId") == attempt.Str("providerMessageId"));
        Assert.Equal("Your balance is 100.00 EUR", received.Str("text"));
        Assert.Equal("Push Bank", received.Str("subject"));
        var providers = JsonNode.Parse(await client.GetStringAsync("/v1/providers"))!.AsArray();
        Assert.Contains(providers, p => p.Str("kind") == "fcm" && p.Str("channel") == "push");
    }

    [Fact]
    public async Task Notification_ToUnregisteredPushToken_FailsPermanently()
    {
        var (_, client) = await Host.CreateTenantAsync();
        var token = PushToken("-unregistered");

        var id = await client.SendAsync(new { type = "service.news", customer = new { pushToken = token }, data = new { text = "New terms" } });

        var n = await client.WaitForStatusAsync(id, "failed");
        var attempts = n.Attempts();
        Assert.All(attempts, a => Assert.Equal("push", a.Str("channel")));
        var attempt = attempts[^1];
        Assert.Equal("permanent", attempt.Str("failureKind"));
        Assert.Equal("UNREGISTERED", attempt.Str("errorCode"));
        Assert.Empty(await client.SandboxMessagesAsync("push", token));
    }
}
