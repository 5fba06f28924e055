using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>
/// <c>GET /v1/stats/overview</c> (the console's overview) on both backends: what falls in each range, per bucket, by
/// channel and status; the delivery rate; what waits per lane; one tenant only; a located error for a bad range.
/// Two waves of notifications two hours apart on the host's clock (moved, not waited for) separate the ranges. Also
/// the search filters the console's list adds (channel, priority).
/// </summary>
public sealed class OverviewTests(PostgresFixture postgres)
{
    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Overview_CountsEachRangePerBucketChannelAndStatus_ForOneTenant(string storage)
    {
        using var folder = new TempFolder();
        var settings = storage == "postgres"
            ? HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("overview_" + Guid.NewGuid().ToString("N")[..12]))
            : HeraldHost.SqliteSettings(folder.Path);
        settings["Herald:Reports:CountInterval"] = "00:00:00.200";
        var clock = new ShiftedTimeProvider();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var (_, client) = await host.CreateTenantAsync();
        var (_, other) = await host.CreateTenantAsync("Other Bank");

        // Two hours ago: two delivered on WhatsApp, one of them critical.
        var early = new[]
        {
            await client.SendAsync(new { type = "otp", priority = "critical", customer = new { phone = TestData.Phone() } }),
            await client.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() } }),
        };
        foreach (var id in early)
        {
            await client.WaitForStatusAsync(id, "delivered");
        }

        clock.Advance(TimeSpan.FromHours(2));
        // Now: one cancelled while it waits for a WhatsApp receipt that never comes (0002), one still waiting.
        var cancelled = await client.SendAsync(new { type = "card.blocked", customer = new { phone = TestData.Phone("0002") } });
        using (var cancel = await client.PostAsync($"/v1/notifications/{cancelled}/cancel", null))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        await client.SendAsync(new { type = "card.blocked", priority = "high", customer = new { phone = TestData.Phone("0002") } });

        var hour = await OverviewAsync(client, "1h");
        Assert.Equal(60, hour["bucketSeconds"]!.GetValue<int>());
        Assert.Equal(2, hour["total"]!.GetValue<long>());
        Assert.Equal(0, hour["delivered"]!.GetValue<long>());
        Assert.Equal(1, hour["final"]!.GetValue<long>());
        Assert.Equal(0.0, hour["deliveryRate"]!.GetValue<double>());
        Assert.Equal(1, Count(hour, status: "cancelled"));
        Assert.Equal([0L, 1L, 0L, 0L], hour["waiting"]!.AsArray().Select(w => w!["count"]!.GetValue<long>()));
        Assert.Equal(["critical", "high", "normal", "low"], hour["waiting"]!.AsArray().Select(w => w!["lane"]!.GetValue<string>()));

        var day = await OverviewAsync(client, "24h");
        Assert.Equal(900, day["bucketSeconds"]!.GetValue<int>());
        Assert.Equal(4, day["total"]!.GetValue<long>());
        Assert.Equal(2, day["delivered"]!.GetValue<long>());
        Assert.Equal(3, day["final"]!.GetValue<long>());
        Assert.Equal(2.0 / 3, day["deliveryRate"]!.GetValue<double>(), 6);
        Assert.Equal(2, Count(day, status: "delivered", channel: "whatsapp"));
        Assert.Equal(1, Count(day, status: "delivered", priority: "critical"));
        // Buckets start at whole multiples of their width, and every count lies inside the range.
        var from = day["from"]!.GetValue<DateTimeOffset>();
        foreach (var count in day["counts"]!.AsArray())
        {
            var bucket = count!["bucket"]!.GetValue<DateTimeOffset>();
            Assert.Equal(0, bucket.ToUnixTimeSeconds() % 900);
            Assert.InRange(bucket, from, day["to"]!.GetValue<DateTimeOffset>());
        }

        Assert.Equal(4, (await OverviewAsync(client, "7d"))["total"]!.GetValue<long>());

        // Once the early wave's bucket is counted after it closed, the 24 h and 7 d ranges read its counts instead of
        // its notifications (and the current bucket live): the same figures.
        var counted = host.Services.GetRequiredService<INotificationCountStore>();
        var earlyBucket = CountBuckets.Of(clock.GetUtcNow() - TimeSpan.FromHours(2));
        await TestData.EventuallyAsync(
            async () => (await counted.BucketsAsync(earlyBucket, earlyBucket + CountBuckets.Width, CancellationToken.None)).SingleOrDefault(),
            b => b is not null && b.CountedAt >= b.Bucket + CountBuckets.Width, TimeSpan.FromSeconds(60), "the early bucket to be counted");
        var dayFromCounts = await OverviewAsync(client, "24h");
        Assert.Equal((4L, 2L, 3L), (dayFromCounts["total"]!.GetValue<long>(), dayFromCounts["delivered"]!.GetValue<long>(), dayFromCounts["final"]!.GetValue<long>()));
        string Early(JsonObject overview) => string.Join(" ", overview["counts"]!.AsArray()
            .Where(c => c!["bucket"]!.GetValue<DateTimeOffset>() < earlyBucket + CountBuckets.Width).Select(c => c!.ToJsonString()));
        Assert.Equal(Early(day), Early(dayFromCounts));
        Assert.Contains("delivered", Early(dayFromCounts), StringComparison.Ordinal);
        Assert.Equal(4, (await OverviewAsync(client, "7d"))["total"]!.GetValue<long>());
        Assert.Equal(0, (await OverviewAsync(other, "7d"))["total"]!.GetValue<long>());

        using var bad = await client.GetAsync("/v1/stats/overview?range=2h");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("query/range", (await bad.Content.ReadFromJsonAsync<JsonObject>())!["errors"]![0]!["pointer"]!.GetValue<string>());

        // The list's channel and priority filters.
        var critical = (await client.GetFromJsonAsync<JsonObject>("/v1/notifications?priority=critical"))!["items"]!.AsArray();
        Assert.Equal(early[0], Assert.Single(critical)!["id"]!.GetValue<Guid>());
        var onWhatsApp = (await client.GetFromJsonAsync<JsonObject>("/v1/notifications?channel=whatsapp&status=delivered"))!["items"]!.AsArray();
        Assert.Equal(early.Reverse(), onWhatsApp.Select(n => n!["id"]!.GetValue<Guid>()));
        using var badFilter = await client.GetAsync("/v1/notifications?channel=pigeon");
        Assert.Equal(HttpStatusCode.BadRequest, badFilter.StatusCode);
        Assert.Equal("query/channel", (await badFilter.Content.ReadFromJsonAsync<JsonObject>())!["errors"]![0]!["pointer"]!.GetValue<string>());
    }

    private static async Task<JsonObject> OverviewAsync(HttpClient client, string range)
    {
        using var response = await client.GetAsync($"/v1/stats/overview?range={range}");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static long Count(JsonObject overview, string? status = null, string? channel = null, string? priority = null) =>
        overview["counts"]!.AsArray()
            .Where(c => (status is null || c!["status"]!.GetValue<string>() == status)
                        && (channel is null || c!["channel"]?.GetValue<string>() == channel)
                        && (priority is null || c!["priority"]!.GetValue<string>() == priority))
            .Sum(c => c!["count"]!.GetValue<long>());
}
