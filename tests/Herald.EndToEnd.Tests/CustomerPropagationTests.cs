using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Customers;
using Herald.Server.Hosting;
using Herald.Storage;
using Herald.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>The throwaway Redis for the multi-node customer tests.</summary>
public sealed class CustomersRedisFixture : RedisServer, IAsyncLifetime;

/// <summary>
/// Two Herald nodes on one PostgreSQL database, each caching customers for ten minutes: an opt-out stored through node A
/// is honoured by node B within about a second, over Redis pub/sub and, with Redis stopped, over LISTEN/NOTIFY. The
/// cache TTL is far longer than the test, so only the change messages can explain it.
/// </summary>
public sealed class CustomerPropagationTests(PostgresFixture postgres, CustomersRedisFixture redis, ITestOutputHelper output)
    : IClassFixture<CustomersRedisFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    // As RulesPropagationTests: a generous wait far below the ten-minute cache TTL set here; the output line records
    // the measured time (docs/CUSTOMERS.md has the figures).
    private static readonly TimeSpan PropagationDeadline = TestData.PropagationDeadline;

    [Fact]
    public async Task OptOutOnNodeA_IsHonouredOnNodeB_WithRedis()
    {
        await redis.StartAsync(TestContext.Current.CancellationToken);
        await PropagateAsync(stopRedis: false);
    }

    [Fact]
    public async Task OptOutOnNodeA_IsHonouredOnNodeB_WithRedisStopped()
    {
        await redis.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            await PropagateAsync(stopRedis: true);
        }
        finally
        {
            await redis.StartAsync(TestContext.Current.CancellationToken);
        }
    }

    private async Task PropagateAsync(bool stopRedis)
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await postgres.CreateDatabaseAsync("customers_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(database);
        settings["ConnectionStrings:Redis"] = redis.ConnectionString;
        settings["Herald:Customers:CacheTtl"] = "00:10:00";
        await using var a = await HeraldHost.StartAsync(HeraldRole.All, settings);
        await using var b = await HeraldHost.StartAsync(HeraldRole.All, settings);
        var (tenantId, clientA) = await a.CreateTenantAsync();
        var clientB = b.Client(clientA.DefaultRequestHeaders.Authorization!.Parameter);
        var fanoutB = b.Services.GetRequiredService<IChangeFeed>();
        var cacheB = b.Services.GetRequiredService<CustomerCache>();
        await fanoutB.Listening.WaitAsync(Deadline, ct);
        await fanoutB.RedisSubscribed.WaitAsync(Deadline, ct);
        if (stopRedis)
        {
            await redis.StopAsync(ct);
        }

        var phone = TestData.Phone();
        var chat = TestData.ChatId();
        using (var put = await clientA.PutAsJsonAsync("/v1/customers/c-1", new { phone, telegramChatId = chat }, ct))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        // Node B reads the customer once and keeps it: WhatsApp first.
        Assert.Equal("whatsapp", (await DryRunChannelsAsync(clientB))[0]);
        Assert.True(cacheB.Holds(tenantId, "c-1"));

        var clock = Stopwatch.StartNew();
        using (var patch = await clientA.PatchAsJsonAsync("/v1/customers/c-1", new { optOuts = new[] { new { channel = "whatsapp" } } }, ct))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        await TestData.EventuallyAsync(() => DryRunChannelsAsync(clientB), channels => !channels.Contains("whatsapp"), PropagationDeadline,
            "node B to honour the opt-out");
        var propagation = clock.Elapsed;
        output.WriteLine($"Opt-out stored on node A was honoured by node B after {propagation.TotalMilliseconds:F0} ms via {cacheB.LastInvalidatedVia} (Redis {(stopRedis ? "stopped" : "running")}).");

        // And a real notification through node B: nothing on WhatsApp, delivered on Telegram.
        var id = await clientB.SendAsync(new { type = "card.transaction", customer = new { id = "c-1" }, data = new { text = "You paid 5 EUR" } });
        var n = await clientB.WaitForStatusAsync(id, "delivered");
        Assert.True(n.Str("channel") == "telegram", $"Expected delivery on Telegram: {n.ToJsonString()}");
        Assert.DoesNotContain(n["route"]!.AsArray(), s => s.Str("channel") == "whatsapp");
        Assert.Empty(await clientB.SandboxMessagesAsync("whatsapp", phone));
        if (stopRedis)
        {
            Assert.Equal("postgres", cacheB.LastInvalidatedVia);
        }
    }

    private static async Task<List<string>> DryRunChannelsAsync(HttpClient client)
    {
        using var response = await client.PostAsJsonAsync("/v1/rules/test", new { notification = new { type = "card.transaction", customer = new { id = "c-1" } } });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return [.. JsonNode.Parse(text)!["route"]!["steps"]!.AsArray().Select(s => s.Str("channel"))];
    }
}
