using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #13 item 7: a noisy neighbour does not delay everyone in its lane. Within a lane, claims are fair across
/// tenants, and within a tenant across its sources, so another tenant's (or another source's) notification is claimed
/// among the first batches although one tenant (or one source) holds tens of thousands of older due notifications in
/// the same lane. Asserts the order (position among the sends the provider
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

    [Fact]
    public async Task TenantsOtherSource_IsClaimedAmongTheFirstBatches_BehindOneSourcesOlderFile()
    {
        const int lines = 20_000;
        var database = await postgres.CreateDatabaseAsync("fair_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(database);
        await using var api = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        var (_, bank) = await api.CreateTenantAsync("Busy Bank");
        using var created = await bank.PostAsJsonAsync("/v1/sources", new
        {
            name = "nightly-file", adapter = "file", requireSignature = false,
            settings = JsonNode.Parse("""
                {"layout":{"format":"csv","delimiter":";","header":true,"idColumn":"id"},
                 "mapping":{"type":{"const":"account.credit"},"priority":{"const":"normal"},
                            "customer":{"telegramChatId":"/chat"},"data":{"text":"/text"}}}
                """),
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var sourceId = (await created.Content.ReadFromJsonAsync<JsonObject>())!.Str("id");
        var file = "id;chat;text\n" + string.Concat(Enumerable.Range(0, lines).Select(i => string.Create(CultureInfo.InvariantCulture, $"B-{i};7{i:D6}0;Booking {i}\n")));
        using var upload = await bank.PostAsync($"/v1/sources/{sourceId}/messages",
            new ByteArrayContent(Encoding.UTF8.GetBytes(file)) { Headers = { ContentType = MediaTypeHeaderValue.Parse("text/csv") } });
        var report = (await upload.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(lines, report["accepted"]!.GetValue<int>());

        // The same bank's own API call, after the whole file.
        var otherChat = "9" + TestData.ChatId();
        await bank.SendAsync(new { type = "account.balance", priority = "normal", channels = new[] { "telegram" }, customer = new { telegramChatId = otherChat } });

        var workerSettings = new Dictionary<string, string?>(settings)
        {
            ["Herald:Worker:Loops"] = "1",
            ["Herald:Worker:ClaimBatch"] = ClaimBatch.ToString(CultureInfo.InvariantCulture),
        };
        await using var worker = await HeraldHost.StartAsync(HeraldRole.Worker, workerSettings);

        var received = await TestData.EventuallyAsync(
            () => bank.SandboxMessagesAsync("telegram"),
            messages => messages.Any(m => m.Str("to") == otherChat) || messages.Count >= 10 * ClaimBatch,
            TimeSpan.FromMinutes(3),
            "the API notification or ten batches of the file's");
        var position = received.Select((m, i) => (m, i)).FirstOrDefault(x => x.m.Str("to") == otherChat, (null!, -1)).i;
        output.WriteLine($"The API notification sent as #{position} of {received.Count} seen, behind a {lines}-line file of the same tenant (claim batch {ClaimBatch}).");
        Assert.InRange(position, 0, (2 * ClaimBatch) - 1);
    }
}
