using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>Issue #4 item 7 end to end on PostgreSQL: a digest rule collapses balance updates into one message.</summary>
public sealed class DigestTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    private HeraldHost Host => fixture.Host;

    [Fact]
    public async Task FiveBalanceUpdatesInTheWindow_SendOneMessage_WithTheLatestBalanceAndCount5_FraudAlertGoesAtOnce()
    {
        var (_, client) = await Host.CreateTenantAsync();
        await RulesTests.PutAsync(client, """
            {"rules": [
              {"name": "balance-digest", "when": "type == 'balance.update'", "then": {"priority": "low", "channels": ["whatsapp"], "digest": {"window": "8s"}}},
              {"name": "fraud-digest-ignored", "when": "type == 'fraud.alert'", "then": {"digest": {"window": "8s"}}}
            ]}
            """);
        var phone = TestData.Phone();
        var ids = new List<Guid>();
        Guid fraud = default;
        for (var i = 1; i <= 5; i++)
        {
            ids.Add(await client.SendAsync(new { type = "balance.update", customer = new { id = "c-digest", phone }, data = new { balance = 100 + i } }));
            if (i == 3)
            {
                fraud = await client.SendAsync(new { type = "fraud.alert", customer = new { id = "c-digest", phone }, data = new { text = "Was this you?" } });
            }
        }

        // Critical priority never digests: the fraud alert is delivered while the balance window is still open.
        var alert = await client.WaitForStatusAsync(fraud, "delivered");
        Assert.Equal("whatsapp", alert.Str("channel"));
        Assert.NotEqual("delivered", (await client.GetNotificationAsync(ids[^1])).Str("status"));

        var sent = await client.WaitForStatusAsync(ids[^1], "delivered", TimeSpan.FromSeconds(60));
        Assert.Equal("whatsapp", sent.Str("channel"));
        foreach (var id in ids[..^1])
        {
            var collapsed = await client.WaitForStatusAsync(id, "suppressed", TimeSpan.FromSeconds(60));
            var attempt = Assert.Single(collapsed.Attempts());
            Assert.Equal("digested", attempt.Str("errorCode"));
            Assert.Contains(ids[^1].ToString(), attempt.Str("error"), StringComparison.Ordinal);
        }

        var messages = (await client.SandboxMessagesAsync("whatsapp", phone)).Select(m => m.Str("text")).ToList();
        var balance = Assert.Single(messages, t => t.StartsWith("balance.update", StringComparison.Ordinal));
        Assert.Contains("balance: 105", balance, StringComparison.Ordinal);
        Assert.Contains("\"count\":5", balance, StringComparison.Ordinal);
        Assert.Single(messages, t => t == "Was this you?");
    }

    /// <summary>Issue #15: the dry run and ingest share one planner, so the dry run shows the digest ingest applies —
    /// the window's key as ingest stores it in the route, and the first send held until the window closes. Before,
    /// the dry run copied the planning code without the digest step and showed the notification as sent at once.</summary>
    [Fact]
    public async Task DryRun_DigestRule_ShowsTheWindowKeyAndHold_AsIngestStoresThem()
    {
        var (tenant, client) = await Host.CreateTenantAsync();
        await RulesTests.PutAsync(client, """
            {"rules": [
              {"name": "balance-digest", "when": "type == 'balance.update'", "then": {"channels": ["whatsapp"], "digest": {"window": "1h", "key": "data.account"}}}
            ]}
            """);
        var notification = new { type = "balance.update", customer = new { id = "c-dry-digest", phone = TestData.Phone() }, data = new { balance = 7, account = "acc-1" } };

        using var response = await client.PostAsJsonAsync("/v1/rules/test", new { notification });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /v1/rules/test answered {(int)response.StatusCode}: {text}");
        var dry = JsonNode.Parse(text)!;
        var id = await client.SendAsync(notification);
        var stored = await Host.Services.GetRequiredService<INotificationStore>().GetAsync(tenant, id, TestContext.Current.CancellationToken);

        var digest = Assert.IsType<JsonObject>(dry["digest"]);
        // The dry run shows the key readable; ingest stores the tenant's keyed hash of it (issue #17: a key can name the customer).
        Assert.Equal("balance.update\nid:c-dry-digest\nacc-1", digest.Str("key"));
        var tenantKeys = await Host.Services.GetRequiredService<Herald.Storage.Secrets.TenantKeys>().ForWriteAsync(tenant, TestContext.Current.CancellationToken);
        Assert.Equal(Herald.Storage.Secrets.ContactHash.Group(tenantKeys, digest.Str("key")!), stored!.Route.Digest!.Key);
        Assert.Equal("1h", digest.Str("window"));
        // Held until the window closes, in the dry run as at ingest (the stored one is not sent while its window is open).
        Assert.Equal(digest["closesAt"]!.GetValue<DateTimeOffset>(), dry["decision"]!["notBefore"]!.GetValue<DateTimeOffset>());
        Assert.Equal("accepted", dry.Str("status"));
        Assert.Equal("accepted", (await client.GetNotificationAsync(id)).Str("status"));
    }
}
