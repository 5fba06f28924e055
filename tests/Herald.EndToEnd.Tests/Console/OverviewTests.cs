using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Herald.Server.Reports;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>
/// <c>GET /v1/stats/overview</c> (the console's overview) on both backends: what falls in each range, per bucket, by
/// channel and status; the delivery rate; what waits per lane; one tenant only; a located error for a bad range.
/// Two waves of notifications two hours apart on the host's clock (moved, not waited for) separate the ranges. Also
/// the search filters the console's list adds (channel, priority). And the fallback rate and accept→delivered
/// percentiles against what the sandbox really delivered, live and from the counts.
/// </summary>
public sealed class OverviewTests(PostgresFixture postgres)
{
    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Overview_CountsEachRangePerBucketChannelAndStatus_ForOneTenant(string storage)
    {
        using var folder = new TempFolder();
        var settings = await SettingsAsync(storage, folder);
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

        // Once the early wave's bucket is counted settled, the 24 h and 7 d ranges read its counts instead of
        // its notifications (and the current bucket live): the same figures.
        var counted = host.Services.GetRequiredService<INotificationCountStore>();
        var earlyBucket = CountBuckets.Of(clock.GetUtcNow() - TimeSpan.FromHours(2));
        await TestData.EventuallyAsync(
            async () => (await counted.BucketsAsync(earlyBucket, earlyBucket + CountBuckets.Width, CancellationToken.None)).SingleOrDefault(),
            b => b is not null && CountBuckets.IsComplete(b), TimeSpan.FromSeconds(60), "the early bucket to be counted");
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

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Overview_FallbackRateAndLatencyPercentiles_AreWhatWasSent(string storage)
    {
        using var folder = new TempFolder();
        var settings = await SettingsAsync(storage, folder);
        settings["Herald:Reports:CountInterval"] = "00:00:00.200";
        var clock = new ShiftedTimeProvider();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var (_, client) = await host.CreateTenantAsync();
        var seen = new Dictionary<Guid, DateTimeOffset>();

        // Three delivered on WhatsApp at once, and one to a number not on WhatsApp (0001): WhatsApp refuses, SMS delivers.
        var fast = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            fast.Add(await client.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() } }));
        }

        fast.Add(await client.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone("0001") } }));
        foreach (var id in fast)
        {
            await client.WaitForStatusAsync(id, "delivered");
            seen[id] = clock.GetUtcNow();
        }

        // WhatsApp takes this one and never sends its receipt (0002); ten minutes later on the host's clock the receipt
        // timeout has long passed and SMS delivers it: slow, and a fallback.
        var slow = await client.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone("0002") } });
        await TestData.EventuallyAsync(
            () => client.GetNotificationAsync(slow), n => n.Attempts().Any(a => a.Str("state") == "sent"), TimeSpan.FromSeconds(30), "WhatsApp to take it");
        clock.Advance(TimeSpan.FromMinutes(10));
        await client.WaitForStatusAsync(slow, "delivered", TimeSpan.FromSeconds(60));
        seen[slow] = clock.GetUtcNow();

        // What was really sent: which fell back (an attempt past the route's first step), and each one's accept→delivered
        // bracketed by its delivering attempt's creation and the moment this test saw it delivered.
        long fallbacks = 0;
        var (earliest, latest) = (DateTimeOffset.MaxValue, DateTimeOffset.MinValue);
        var low = new List<double>();
        var high = new List<double>();
        foreach (var (id, at) in seen)
        {
            var n = await client.GetNotificationAsync(id);
            var created = n["createdAt"]!.GetValue<DateTimeOffset>();
            earliest = created < earliest ? created : earliest;
            latest = created > latest ? created : latest;
            var attempts = n.Attempts();
            fallbacks += attempts.Any(a => a!["step"]!.GetValue<int>() > 0) ? 1 : 0;
            low.Add((attempts[^1]!["createdAt"]!.GetValue<DateTimeOffset>() - created).TotalMilliseconds);
            high.Add((at - created).TotalMilliseconds);
        }

        Assert.Equal(2, fallbacks);
        Assert.True(low.Max() >= TimeSpan.FromMinutes(10).TotalMilliseconds);
        low.Sort();
        high.Sort();
        // The k-th smallest latency lies between the k-th smallest bounds; p50 of five is the 3rd, p95 and p99 the 5th.
        void AssertFigures(JsonObject overview)
        {
            Assert.Equal(5, overview["final"]!.GetValue<long>());
            Assert.Equal(fallbacks, overview["fallbacks"]!.GetValue<long>());
            Assert.Equal(fallbacks / 5.0, overview["fallbackRate"]!.GetValue<double>(), 6);
            var latency = overview["latency"]!;
            Assert.Equal(5, latency["measured"]!.GetValue<long>());
            Assert.InRange(latency["p50Ms"]!.GetValue<double>(), LatencyBins.UpperBoundMs(LatencyBins.Of(low[2])), LatencyBins.UpperBoundMs(LatencyBins.Of(high[2])));
            Assert.InRange(latency["p95Ms"]!.GetValue<double>(), LatencyBins.UpperBoundMs(LatencyBins.Of(low[4])), LatencyBins.UpperBoundMs(LatencyBins.Of(high[4])));
            Assert.Equal(latency["p95Ms"]!.GetValue<double>(), latency["p99Ms"]!.GetValue<double>());
            Assert.Equal(5, overview["latencyBuckets"]!.AsArray().Sum(b => b!["measured"]!.GetValue<long>()));
        }

        // A bucket is counted once settled (five minutes after it closes; read live until then), and again only when
        // that count found notifications open, ten minutes later: move the clock on ten minutes and wait for the settled
        // buckets that hold these notifications to be counted after the last delivery.
        var counted = host.Services.GetRequiredService<INotificationCountStore>();
        var first = CountBuckets.Of(earliest);
        var last = seen.Values.Max();
        clock.Advance(TimeSpan.FromMinutes(10));
        var settled = CountBuckets.Of(clock.GetUtcNow() - CountBuckets.Settle);
        var end = CountBuckets.Of(latest) + CountBuckets.Width < settled ? CountBuckets.Of(latest) + CountBuckets.Width : settled;
        end = end < first ? first : end;
        await TestData.EventuallyAsync(
            async () => await counted.BucketsAsync(first, end, CancellationToken.None),
            b => b.Count == (int)((end - first) / CountBuckets.Width) && b.All(c => c.CountedAt > last), TimeSpan.FromSeconds(60), "a count after the last delivery");
        AssertFigures(await OverviewAsync(client, "1h"));
        var live = await OverviewAsync(client, "24h");
        AssertFigures(live);
        AssertFigures(await OverviewAsync(client, "7d"));

        // Once their buckets settled and were counted, the 24 h range reads them from the counts: the same figures.
        clock.Advance(TimeSpan.FromMinutes(20));
        var current = CountBuckets.Of(clock.GetUtcNow() - CountBuckets.Settle);
        await TestData.EventuallyAsync(
            async () => await counted.BucketsAsync(first, current, CancellationToken.None),
            b => b.Count == (int)((current - first) / CountBuckets.Width) && b.All(CountBuckets.IsComplete),
            TimeSpan.FromSeconds(60), "the buckets to be counted after they closed");
        var fromCounts = await OverviewAsync(client, "24h");
        AssertFigures(fromCounts);
        Assert.Equal(live["latency"]!.ToJsonString(), fromCounts["latency"]!.ToJsonString());
        Assert.Equal(live["latencyBuckets"]!.ToJsonString(), fromCounts["latencyBuckets"]!.ToJsonString());
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Counting_CountsEachBucketOnceSettledAndOpenOnesAgainLater(string storage)
    {
        // An api node alone: nothing delivers, so what it accepts stays open. Counting runs only when this test asks.
        using var folder = new TempFolder();
        var settings = await SettingsAsync(storage, folder);
        settings["Herald:Reports:Counting"] = "false";
        var clock = new ShiftedTimeProvider();
        await using var host = await HeraldHost.StartAsync(HeraldRole.Api, settings, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var (_, client) = await host.CreateTenantAsync();
        await client.SendAsync(new { type = "service.news", customer = new { phone = TestData.Phone() } });
        var bucket = CountBuckets.Of(clock.GetUtcNow());
        var counting = ActivatorUtilities.CreateInstance<NotificationCounting>(host.Services);
        var counted = host.Services.GetRequiredService<INotificationCountStore>();
        var width = CountBuckets.Width;
        void MoveTo(DateTimeOffset at) => clock.Advance(at - clock.GetUtcNow());
        Task<int> RoundAsync() => counting.RoundAsync(CancellationToken.None);

        // Seven minutes into a bucket, on a fresh database: every settled bucket of the week is counted, 96 a round (the
        // one that closed seven minutes ago among them); then a round counts nothing: not the current bucket, nothing
        // already counted settled, and the open one not before ten minutes.
        MoveTo(bucket + (3 * width) + TimeSpan.FromMinutes(7));
        var rounds = 0;
        while (await RoundAsync() > 0)
        {
            Assert.True(++rounds < 20, "the backfill should end");
        }

        var once = Assert.Single(await counted.BucketsAsync(bucket, bucket + width, CancellationToken.None));
        Assert.Equal(1, once.Open);
        Assert.Empty(await counted.BucketsAsync(bucket + (3 * width), bucket + (4 * width), CancellationToken.None));

        // A minute after the next bucket closes it is still settling (read live): nothing to count.
        MoveTo(bucket + (4 * width) + TimeSpan.FromMinutes(1));
        Assert.Equal(0, await RoundAsync());

        // The open one's bucket again once ten minutes have passed since its count, and not twice.
        MoveTo(bucket + (4 * width) + TimeSpan.FromMinutes(3));
        Assert.Equal(1, await RoundAsync());
        var again = Assert.Single(await counted.BucketsAsync(bucket, bucket + width, CancellationToken.None));
        Assert.True(again.CountedAt > once.CountedAt);
        Assert.Equal(0, await RoundAsync());

        // Five minutes after it closed, the next bucket is counted, once.
        MoveTo(bucket + (4 * width) + TimeSpan.FromMinutes(6));
        Assert.Equal(1, await RoundAsync());
        Assert.Equal(0, await RoundAsync());
        Assert.True(CountBuckets.IsComplete(Assert.Single(await counted.BucketsAsync(bucket + (3 * width), bucket + (4 * width), CancellationToken.None))));
    }

    /// <summary>A fresh database of <paramref name="storage"/>: one of the shared PostgreSQL's, or SQLite in <paramref name="folder"/>.</summary>
    private async Task<Dictionary<string, string?>> SettingsAsync(string storage, TempFolder folder) => storage == "postgres"
        ? HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("overview_" + Guid.NewGuid().ToString("N")[..12]))
        : HeraldHost.SqliteSettings(folder.Path);

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
