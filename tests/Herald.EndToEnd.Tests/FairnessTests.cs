using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #13 item 7: a noisy neighbour does not delay everyone in its lane. Within a lane, claims are fair across
/// tenants, so another tenant's notification is claimed among the first batches although one tenant holds tens of
/// thousands of older due notifications in the same lane. Asserts the order (position among the sends the provider
/// saw), never a time.
/// </summary>
public sealed class FairnessTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private const int Backlog = 50_000;
    private const int ClaimBatch = 50;

    [Fact]
    public async Task OtherTenantsNotification_IsClaimedAmongTheFirstBatches_BehindABigTenantsOlderBacklog()
    {
        var database = await postgres.CreateDatabaseAsync("fair_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(database);
        // The API node queues everything before any worker runs, so the backlog is real and older than B's notification.
        await using var api = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        var (_, noisy) = await api.CreateTenantAsync("Noisy Bank");
        var (_, quiet) = await api.CreateTenantAsync("Quiet Bank");
        for (var batch = 0; batch < Backlog / 1_000; batch++)
        {
            var items = Enumerable.Range(0, 1_000).Select(i => new
            {
                type = "marketing.blast", priority = "normal", channels = new[] { "telegram" },
                customer = new { telegramChatId = $"7{batch:D3}{i:D4}" },
            });
            using var response = await noisy.PostAsJsonAsync("/v1/notifications/batch", new { items });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var quietChat = "9" + TestData.ChatId();
        await quiet.SendAsync(new { type = "account.balance", priority = "normal", channels = new[] { "telegram" }, customer = new { telegramChatId = quietChat } });

        var workerSettings = new Dictionary<string, string?>(settings)
        {
            ["Herald:Worker:Loops"] = "1",
            ["Herald:Worker:ClaimBatch"] = ClaimBatch.ToString(CultureInfo.InvariantCulture),
        };
        await using var worker = await HeraldHost.StartAsync(HeraldRole.Worker, workerSettings);

        // FIFO across tenants would send all 50,000 older ones first: stop looking once far more than two batches went.
        var received = await TestData.EventuallyAsync(
            () => noisy.SandboxMessagesAsync("telegram"),
            messages => messages.Any(m => m.Str("to") == quietChat) || messages.Count >= 10 * ClaimBatch,
            TimeSpan.FromMinutes(3),
            "the quiet tenant's notification or ten batches of the noisy one's");
        var position = received.Select((m, i) => (m, i)).FirstOrDefault(x => x.m.Str("to") == quietChat, (null!, -1)).i;
        output.WriteLine($"Quiet tenant's notification sent as #{position} of {received.Count} seen, behind a {Backlog} backlog (claim batch {ClaimBatch}).");
        // Fair within the lane: in the first claim (half a batch each), allowing one batch in flight before it.
        Assert.InRange(position, 0, (2 * ClaimBatch) - 1);
    }
}
