using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Channels.Providers;
using Herald.Channels.Sms.Smpp;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Sandbox.Smpp;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>SMS over SMPP end to end on PostgreSQL: worker → SMPP session → sandbox SMSC → deliver_sm receipt →
/// receipt processor.</summary>
public sealed class SmppDeliveryTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    private HeraldHost Host => fixture.Host;

    [Fact]
    public async Task Sms_ThroughATenantsOnlySmppAccount_IsDeliveredWithItsReceipt()
    {
        var (account, client) = await TenantWithOnlySmppAsync();
        var phone = TestData.Phone();

        var id = await client.SendAsync(new { type = "account.balance", channels = new[] { "sms" }, customer = new { phone }, data = new { text = "Balance: 100.00€ [EUR]" } });

        // The SMS step waits for acceptance (SPEC §8); the deliver_sm receipt then moves the attempt to delivered.
        var n = await client.WaitForStatusAsync(id, "delivered");
        Assert.Equal("sms", n.Str("channel"));
        n = await TestData.EventuallyAsync(
            () => client.GetNotificationAsync(id), static n => n.Attempts()[^1].Str("state") == "delivered", TimeSpan.FromSeconds(20), "the SMPP delivery receipt");
        var attempt = Assert.Single(n.Attempts());
        Assert.False(string.IsNullOrEmpty(attempt.Str("deliveredAt")));
        var received = Assert.Single(await client.SandboxMessagesAsync("sms", phone));
        Assert.Equal("Balance: 100.00€ [EUR]", received.Str("text"));
        Assert.Equal(received.Str("providerMessageId"), attempt.Str("providerMessageId"));
        Assert.Equal(SettingsSystemId(account), received.Str("account"));
        Assert.True(Host.Services.GetRequiredService<SmppSessions>().IsBound(account.Id));
    }

    [Fact]
    public async Task Sms_ToTheMagicInvalidNumber_FailsPermanently_WithoutRetrying()
    {
        var (_, client) = await TenantWithOnlySmppAsync();

        var id = await client.SendAsync(new { type = "account.balance", channels = new[] { "sms" }, customer = new { phone = TestData.Phone("0004") }, data = new { text = "x" } });

        var n = await TestData.EventuallyAsync(() => client.GetNotificationAsync(id), static n => n.Str("status") == "failed", TimeSpan.FromSeconds(30), "failed");
        var attempt = Assert.Single(n.Attempts());
        Assert.Equal("ESME_RINVDSTADR", attempt.Str("errorCode"));
    }

    // 3 GSM-7 parts (405 septets; 153 per part).
    private static readonly string LongText = string.Concat(Enumerable.Repeat("Statement line 0123456789. ", 15));

    // SMS waits for the delivery receipt, so "delivered" is the whole text's receipt, not the SMSC's acceptance.
    private const string SmsWaitsForDelivery =
        """{"rules": [{"name": "sms-delivered", "then": {"channels": [{"channel": "sms", "waitFor": "delivered", "timeout": "60s"}]}}]}""";

    [Fact]
    public async Task LongSms_PartsReceiptedOutOfOrder_IsDeliveredOnlyOnceEveryPartIs()
    {
        var (_, client) = await TenantWithOnlySmppAsync();
        await RulesTests.PutAsync(client, SmsWaitsForDelivery);
        var phone = TestData.Phone("0051");   // sandbox SMSC: the parts' receipts in reverse order

        var id = await client.SendAsync(new { type = "account.balance", customer = new { phone }, data = new { text = LongText } });

        var n = await client.WaitForStatusAsync(id, "delivered");
        var attempt = Assert.Single(n.Attempts());
        Assert.Equal("delivered", attempt.Str("state"));
        var parts = await Host.Services.GetRequiredService<IAttemptPartStore>().ListAsync(Guid.Parse(attempt.Str("id")), CancellationToken.None);
        Assert.Equal(3, parts.Count);
        Assert.All(parts, static p => Assert.Equal(ReceiptState.Delivered, p.State));
        Assert.Equal(attempt.Str("providerMessageId"), parts[0].ProviderMessageId);
        // Delivered at the last part's receipt: the first part's, which the SMSC sent last.
        Assert.Equal(parts.Max(static p => p.ReceivedAt), DateTimeOffset.Parse(attempt.Str("deliveredAt"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(parts[0].ReceivedAt, parts.Max(static p => p.ReceivedAt));
        Assert.Equal(LongText, Assert.Single(await client.SandboxMessagesAsync("sms", phone)).Str("text"));
    }

    [Fact]
    public async Task LongSms_WithOnePartUndeliverable_FailsNamingThePart_ThoughTheOtherPartsAreDelivered()
    {
        var (_, client) = await TenantWithOnlySmppAsync();
        await RulesTests.PutAsync(client, SmsWaitsForDelivery);
        var phone = TestData.Phone("0052");   // sandbox SMSC: part 2 of a long message UNDELIV, receipts in reverse order

        var id = await client.SendAsync(new { type = "account.balance", customer = new { phone }, data = new { text = LongText } });

        var n = await TestData.EventuallyAsync(() => client.GetNotificationAsync(id), static n => n.Str("status") == "failed", TimeSpan.FromSeconds(30), "failed");
        var attempt = Assert.Single(n.Attempts());
        Assert.Equal(("failed", "permanent", "UNDELIV:001"), (attempt.Str("state"), attempt.Str("failureKind"), attempt.Str("errorCode")));
        Assert.StartsWith("part 2 of 3: ", attempt.Str("error"), StringComparison.Ordinal);
        var parts = await Host.Services.GetRequiredService<IAttemptPartStore>().ListAsync(Guid.Parse(attempt.Str("id")), CancellationToken.None);
        Assert.Equal(ReceiptState.Failed, parts[1].State);
    }

    private static string SettingsSystemId(ProviderAccount account) =>
        JsonDocument.Parse(account.Settings).RootElement.GetProperty("systemId").GetString()!;

    /// <summary>A tenant created in the store (so without the sandbox accounts) whose one SMS account is SMPP.</summary>
    private async Task<(ProviderAccount Account, HttpClient Client)> TenantWithOnlySmppAsync()
    {
        var services = Host.Services;
        var tenant = await services.GetRequiredService<ITenantStore>().CreateTenantAsync("SMPP Bank", CancellationToken.None);
        var port = services.GetRequiredService<SmppSimulator>().Port!.Value;
        var settings = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["host"] = SmppSimulator.Host,
            ["port"] = port,
            ["systemId"] = "e2e" + tenant.Id.ToString("N")[..12],
            ["password"] = "e2e-pass",
            ["sourceAddr"] = "BANK",
        });
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var account = await services.GetRequiredService<IProviderStore>().CreateAsync(
            new ProviderAccount(Guid.CreateVersion7(now), tenant.Id, Channel.Sms, SmppSmsConnector.ConnectorKind, "SMPP", settings, 100, true, now),
            CancellationToken.None);
        await services.GetRequiredService<ProviderDirectory>().InvalidateAsync(CancellationToken.None);

        var key = await Host.Admin.PostAsJsonAsync($"/v1/admin/tenants/{tenant.Id}/keys", new { roles = new[] { "send", "read", "admin" } });
        key.EnsureSuccessStatusCode();
        var secret = (await key.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
        return (account, Host.Client(secret));
    }
}
