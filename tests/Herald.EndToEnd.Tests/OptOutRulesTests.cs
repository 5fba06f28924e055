using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Per-tenant opt-out exemptions as a rule action (<c>then.optOuts</c>, issue #4): one bank sends fraud alerts despite
/// an opt-out, another on the same node does not; the dry run shows the decision; bad values are located 422s.
/// </summary>
public sealed class OptOutRulesTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    private HeraldHost Host => fixture.Host;

    private const string IgnoreForFraud = """
        {"rules": [{"name": "fraud-despite-opt-outs", "when": "type == 'fraud.alert'", "then": {"optOuts": "ignore"}}]}
        """;

    [Fact]
    public async Task FraudAlert_IgnoresOptOuts_OnlyForTheTenantWhoseRuleSaysSo()
    {
        var (_, exempting) = await Host.CreateTenantAsync("Exempting Bank");
        var (_, strict) = await Host.CreateTenantAsync("Strict Bank");
        await RulesTests.PutAsync(exempting, IgnoreForFraud);
        var phoneA = TestData.Phone();
        var phoneB = TestData.Phone();
        // Opted out of fraud alerts everywhere: the strict bank must not send one, the exempting bank must.
        await PutCustomerAsync(exempting, "c-1", new { phone = phoneA, optOuts = new[] { new { type = "fraud.alert" } } });
        await PutCustomerAsync(strict, "c-1", new { phone = phoneB, optOuts = new[] { new { type = "fraud.alert" } } });

        var sent = await exempting.SendAsync(new { type = "fraud.alert", customer = new { id = "c-1" }, data = new { text = "Was this you?" } });
        var kept = await strict.SendAsync(new { type = "fraud.alert", customer = new { id = "c-1" }, data = new { text = "Was this you?" } });

        Assert.Equal("whatsapp", (await exempting.WaitForStatusAsync(sent, "delivered")).Str("channel"));
        Assert.Single(await exempting.SandboxMessagesAsync("whatsapp", phoneA));
        var suppressed = await strict.GetNotificationAsync(kept);
        Assert.Equal("suppressed", suppressed.Str("status"));
        Assert.Empty(suppressed.Attempts());
        Assert.Empty(await strict.SandboxMessagesAsync(to: phoneB));
    }

    [Fact]
    public async Task OtherTypes_StillHonourOptOuts()
    {
        var (_, client) = await Host.CreateTenantAsync();
        await RulesTests.PutAsync(client, IgnoreForFraud);
        var phone = TestData.Phone();
        var chat = TestData.ChatId();
        await PutCustomerAsync(client, "c-2", new { phone, telegramChatId = chat, optOuts = new[] { new { channel = "whatsapp" } } });

        var alert = await client.SendAsync(new { type = "fraud.alert", customer = new { id = "c-2" }, data = new { text = "Alert" } });
        var card = await client.SendAsync(new { type = "card.transaction", customer = new { id = "c-2" }, data = new { text = "Card" } });

        Assert.Equal("whatsapp", (await client.WaitForStatusAsync(alert, "delivered")).Str("channel"));
        Assert.Equal("telegram", (await client.WaitForStatusAsync(card, "delivered")).Str("channel"));
    }

    [Fact]
    public async Task DryRun_ShowsTheDecision_AndTheRouteWithTheOptedOutStep()
    {
        var (_, client) = await Host.CreateTenantAsync();
        await RulesTests.PutAsync(client, IgnoreForFraud);
        await PutCustomerAsync(client, "c-3", new { phone = TestData.Phone(), telegramChatId = TestData.ChatId(), optOuts = new[] { new { channel = "whatsapp" } } });

        var fraud = await DryRunAsync(client, new { type = "fraud.alert", customer = new { id = "c-3" } });
        var card = await DryRunAsync(client, new { type = "card.transaction", customer = new { id = "c-3" } });

        Assert.Equal("ignore", fraud["decision"].Str("optOuts"));
        Assert.Equal("fraud-despite-opt-outs", fraud["decision"]!["decidedBy"].Str("optOuts"));
        Assert.Equal("whatsapp", fraud["route"]!["steps"]![0].Str("channel"));
        Assert.Null(card["decision"]!["optOuts"]);
        Assert.DoesNotContain(card["route"]!["steps"]!.AsArray(), s => s.Str("channel") == "whatsapp");
    }

    [Theory]
    [InlineData("\"skip\"")]
    [InlineData("false")]
    public async Task InvalidOptOutsAction_IsALocated422_AndChangesNothing(string value)
    {
        var (_, client) = await Host.CreateTenantAsync();
        await RulesTests.PutAsync(client, IgnoreForFraud);

        using var response = await RulesTests.PutRawAsync(client, """{"rules": [{"name": "r", "then": {"optOuts": """ + value + "}}]}");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("/rules/0/then/optOuts", problem["errors"]![0].Str("pointer"));
        var current = JsonNode.Parse(await client.GetStringAsync("/v1/rules"))!;
        Assert.Equal(1, current["version"]!.GetValue<long>());
    }

    private static async Task PutCustomerAsync(HttpClient client, string id, object body)
    {
        using var response = await client.PutAsJsonAsync($"/v1/customers/{id}", body);
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    private static async Task<JsonNode> DryRunAsync(HttpClient client, object notification)
    {
        using var response = await client.PostAsJsonAsync("/v1/rules/test", new { notification });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!;
    }
}
