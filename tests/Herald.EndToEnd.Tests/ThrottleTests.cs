using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests;

/// <summary>Issue #4 item 7 end to end on PostgreSQL: a throttle rule lets at most max notifications of a type per
/// customer through per period; the excess ends suppressed as throttled.</summary>
public sealed class ThrottleTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    private const string Rules = """
        {"rules": [
          {"name": "balance-throttle", "when": "type == 'balance.update'", "then": {"channels": ["whatsapp"], "throttle": {"max": 2, "per": "1h"}}},
          {"name": "fraud-throttle-ignored", "when": "type == 'fraud.alert'", "then": {"throttle": {"max": 1, "per": "1h"}}}
        ]}
        """;

    private HeraldHost Host => fixture.Host;

    [Fact]
    public async Task FiveBalanceUpdates_MaxTwoPerHour_TwoDelivered_ThreeThrottled_FraudAlertsAllDelivered_DryRunShowsIt()
    {
        var (_, client) = await Host.CreateTenantAsync();
        await RulesTests.PutAsync(client, Rules);
        var phone = TestData.Phone();
        var customer = new { id = "c-throttle", phone };

        var before = Assert.IsType<JsonObject>(await DryRunThrottleAsync(client, new { type = "balance.update", customer, data = new { balance = 1 } }));
        Assert.Equal(2, before["max"]!.GetValue<int>());
        Assert.Equal("1h", before.Str("per"));
        Assert.Equal(0, before["sentInWindow"]!.GetValue<int>());
        Assert.False(before["wouldThrottle"]!.GetValue<bool>());

        // Two single POSTs (the first re-sent with its idempotency key: one notification), then three in one batch.
        var ids = new List<Guid>
        {
            await client.SendAsync(new { type = "balance.update", customer, data = new { balance = 101 } }, "balance-101"),
            await client.SendAsync(new { type = "balance.update", customer, data = new { balance = 102 } }),
        };
        using (var resend = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications")
        {
            Content = JsonContent.Create(new { type = "balance.update", customer, data = new { balance = 101 } }),
        })
        {
            resend.Headers.Add("Idempotency-Key", "balance-101");
            using var again = await client.SendAsync(resend);
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Equal(ids[0], (await again.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>());
        }

        using (var batch = await client.PostAsJsonAsync("/v1/notifications/batch", new
        {
            items = new[] { 103, 104, 105 }.Select(b => new { type = "balance.update", customer, data = new { balance = b } }),
        }))
        {
            Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
            var items = (await batch.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray();
            ids.AddRange(items.Select(item => item!["id"]!.GetValue<Guid>()));
        }

        // Critical priority never throttles: three fraud alerts against a limit of one all go out.
        var alerts = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            alerts.Add(await client.SendAsync(new { type = "fraud.alert", customer, data = new { text = $"Was this you? {i}" } }));
        }

        foreach (var alert in alerts)
        {
            await client.WaitForStatusAsync(alert, "delivered");
        }

        var final = new List<JsonObject>();
        foreach (var id in ids)
        {
            final.Add(await WaitForFinalAsync(client, id));
        }

        Assert.Equal(5, ids.Distinct().Count());
        Assert.Equal(2, final.Count(n => n.Str("status") == "delivered"));
        var throttled = final.Where(n => n.Str("status") == "suppressed").ToList();
        Assert.Equal(3, throttled.Count);
        foreach (var n in throttled)
        {
            var attempt = Assert.Single(n.Attempts());
            Assert.Equal("throttled", attempt.Str("errorCode"));
            Assert.Contains("2 notifications", attempt.Str("error"), StringComparison.Ordinal);
        }

        var messages = (await client.SandboxMessagesAsync("whatsapp", phone)).Select(m => m.Str("text")).ToList();
        Assert.Equal(2, messages.Count(t => t.StartsWith("balance.update", StringComparison.Ordinal)));
        Assert.Equal(3, messages.Count(t => t.StartsWith("Was this you?", StringComparison.Ordinal)));

        // The dry run now says the next one would be throttled, and asking does not count: twice the same answer.
        for (var i = 0; i < 2; i++)
        {
            var after = Assert.IsType<JsonObject>(await DryRunThrottleAsync(client, new { type = "balance.update", customer, data = new { balance = 106 } }));
            Assert.Equal(2, after["sentInWindow"]!.GetValue<int>());
            Assert.True(after["wouldThrottle"]!.GetValue<bool>());
        }

        Assert.Null(await DryRunThrottleAsync(client, new { type = "fraud.alert", customer, data = new { text = "?" } }));
    }

    [Fact]
    public async Task Throttle_CountsPerTenant_CustomerAndKey()
    {
        var (_, a) = await Host.CreateTenantAsync("Bank A");
        var (_, b) = await Host.CreateTenantAsync("Bank B");
        const string Keyed = """
            {"rules": [{"name": "per-account", "when": "type == 'balance.update'",
                        "then": {"channels": ["whatsapp"], "throttle": {"max": 1, "per": "1h", "key": "data.account"}}}]}
            """;
        await RulesTests.PutAsync(a, Keyed);
        await RulesTests.PutAsync(b, Keyed);
        var phone = TestData.Phone();
        var customer = new { id = "c-shared", phone };

        var first = await a.SendAsync(new { type = "balance.update", customer, data = new { account = "A1" } });
        await a.WaitForStatusAsync(first, "delivered");
        var second = await a.SendAsync(new { type = "balance.update", customer, data = new { account = "A1" } });
        var otherAccount = await a.SendAsync(new { type = "balance.update", customer, data = new { account = "A2" } });
        var otherCustomer = await a.SendAsync(new { type = "balance.update", customer = new { id = "c-other", phone = TestData.Phone() }, data = new { account = "A1" } });
        var otherTenant = await b.SendAsync(new { type = "balance.update", customer, data = new { account = "A1" } });

        Assert.Equal("throttled", Assert.Single((await a.WaitForStatusAsync(second, "suppressed")).Attempts()).Str("errorCode"));
        await a.WaitForStatusAsync(otherAccount, "delivered");
        await a.WaitForStatusAsync(otherCustomer, "delivered");
        await b.WaitForStatusAsync(otherTenant, "delivered");
    }

    [Fact]
    public async Task Put_AcceptsThrottle_AndStillLocatesItsErrors()
    {
        var (_, client) = await Host.CreateTenantAsync();

        var stored = await RulesTests.PutAsync(client, """{"rules": [{"name": "t", "then": {"throttle": {"max": 3, "per": "1h"}}}]}""");
        Assert.Equal(1, stored["version"]!.GetValue<long>());

        using var invalid = await RulesTests.PutRawAsync(client, """{"rules": [{"name": "t", "then": {"throttle": {"max": 0, "per": "1h"}}}]}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
        Assert.Contains("/rules/0/then/throttle/max", await invalid.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>The dry run's <c>throttle</c> member (null when no throttle applies).</summary>
    private static async Task<JsonNode?> DryRunThrottleAsync(HttpClient client, object notification)
    {
        using var response = await client.PostAsJsonAsync("/v1/rules/test", new { notification });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /v1/rules/test answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!["throttle"];
    }

    private static Task<JsonObject> WaitForFinalAsync(HttpClient client, Guid id) =>
        TestData.EventuallyAsync(
            () => client.GetNotificationAsync(id),
            n => n.Str("status") is "delivered" or "failed" or "expired" or "suppressed" or "cancelled",
            TimeSpan.FromSeconds(30),
            $"notification {id} to end");
}
