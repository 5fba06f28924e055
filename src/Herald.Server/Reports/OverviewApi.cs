using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Server.Authentication;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Reports;

/// <summary>The console's overview of one range: counts per bucket and totals (see <see cref="OverviewApi"/>).</summary>
/// <param name="Range">The range asked for: <c>1h</c>, <c>24h</c> or <c>7d</c>.</param>
/// <param name="From">Inclusive.</param>
/// <param name="To">Exclusive.</param>
/// <param name="BucketSeconds">Width of each bucket of <paramref name="Counts"/>.</param>
/// <param name="Counts">Notifications created per bucket, by delivering channel, status and priority (only non-zero groups).</param>
/// <param name="Total">Notifications created in the range.</param>
/// <param name="Delivered">Of those, delivered.</param>
/// <param name="Final">Of those, final (delivered, failed, expired, suppressed or cancelled).</param>
/// <param name="DeliveryRate">Delivered / final; null before any is final.</param>
/// <param name="Waiting">Notifications of the range not yet final, per priority lane, critical first.</param>
/// <param name="Fallbacks">Of the final ones, those whose route moved past its first step: the first channel failed,
/// timed out waiting for its receipt, or was skipped (no contact, opt-out, outside its window), whatever the end.</param>
/// <param name="FallbackRate">Fallbacks / final; null before any is final.</param>
/// <param name="Latency">Accept→delivered of the range's delivered notifications.</param>
/// <param name="LatencyBuckets">The same per bucket (only buckets with a delivered notification), for a chart.</param>
public sealed record Overview(
    string Range, DateTimeOffset From, DateTimeOffset To, int BucketSeconds, IReadOnlyList<NotificationCount> Counts,
    long Total, long Delivered, long Final, double? DeliveryRate, IReadOnlyList<LaneWaiting> Waiting,
    long Fallbacks, double? FallbackRate, LatencyPercentiles Latency, IReadOnlyList<LatencyPercentiles> LatencyBuckets);

/// <summary>
/// Accept→delivered percentiles: from accepting a notification (its creation) to the moment it became delivered, both on
/// Herald's clock, read from a histogram of log-scale bins (<see cref="LatencyBins"/>). Each percentile is the upper
/// bound of its bin by nearest rank: never below the true value and at most 26 % above it; a percentile of 4,194,304 ms
/// (about 70 minutes) means at least that.
/// </summary>
/// <param name="Bucket">The bucket's start; null for the whole range.</param>
/// <param name="Measured">Delivered notifications with a recorded delivery moment (those delivered before it was
/// recorded, PG 0033 / SQLite 0034, have none).</param>
/// <param name="P50Ms">Median in milliseconds; null when none was measured.</param>
/// <param name="P95Ms">95th percentile in milliseconds.</param>
/// <param name="P99Ms">99th percentile in milliseconds.</param>
public sealed record LatencyPercentiles(DateTimeOffset? Bucket, long Measured, double? P50Ms, double? P95Ms, double? P99Ms)
{
    /// <summary>The percentiles of one histogram (<paramref name="counts"/>[bin]).</summary>
    public static LatencyPercentiles Of(DateTimeOffset? bucket, long[] counts) => new(
        bucket, counts.Sum(), LatencyBins.Percentile(counts, 50), LatencyBins.Percentile(counts, 95), LatencyBins.Percentile(counts, 99));
}

/// <param name="Lane">The priority lane.</param>
/// <param name="Count">The tenant's notifications in that lane not yet final.</param>
public sealed record LaneWaiting(Priority Lane, long Count);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Overview))]
public sealed partial class OverviewJson : JsonSerializerContext;

/// <summary>
/// <c>GET /v1/stats/overview?range=1h|24h|7d</c> (keys with <c>read</c> or <c>admin</c>, or a console session): the
/// caller's tenant's notifications of the range per bucket (1 min, 15 min, 1 h), by channel, status and priority,
/// with the delivery rate, the fallback rate, accept→delivered percentiles and what waits per lane. The 1 h range is one grouped query over the id range of the time
/// range (ids are UUIDv7), read through the (tenant_id, id) index; the 24 h and 7 d ranges read the 15-minute counts
/// kept by <see cref="NotificationCounting"/> and count only what those do not cover yet (docs/CONSOLE.md has the plans).
/// </summary>
public static class OverviewApi
{
    private static readonly Dictionary<string, (TimeSpan Range, TimeSpan Bucket)> Ranges = new(StringComparer.Ordinal)
    {
        ["1h"] = (TimeSpan.FromHours(1), TimeSpan.FromMinutes(1)),
        ["24h"] = (TimeSpan.FromHours(24), TimeSpan.FromMinutes(15)),
        ["7d"] = (TimeSpan.FromDays(7), TimeSpan.FromHours(1)),
    };

    public static IEndpointRouteBuilder MapOverviewApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/stats/overview", OverviewAsync).RequireAuthorization(Policies.Read).WithTags("Reports")
            .WithName("getOverview")
            .WithSummary("The tenant's notifications over 1 h, 24 h or 7 d: per bucket by channel, status and priority; delivery and fallback rates; accept→delivered p50/p95/p99; waiting per lane.")
            .Produces<Overview>()
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        return app;
    }

    private static async Task<IResult> OverviewAsync(
        HttpRequest request, ClaimsPrincipal user, INotificationStore store, INotificationCountStore counted, IOptions<ReportsOptions> options, TimeProvider time, CancellationToken ct)
    {
        var range = request.Query["range"].FirstOrDefault() ?? "1h";
        if (!Ranges.TryGetValue(range, out var shape))
        {
            return Problems.Invalid([new InputError("query/range", "Use 1h, 24h or 7d.")], "The overview query is invalid.");
        }

        // Buckets start at multiples of their width, so the first is whole and a refresh keeps the same buckets.
        var width = (long)shape.Bucket.TotalMilliseconds;
        var to = time.GetUtcNow();
        var from = DateTimeOffset.FromUnixTimeMilliseconds((to - shape.Range).ToUnixTimeMilliseconds() / width * width);
        var (counts, latencies) = options.Value.Counting && shape.Bucket >= CountBuckets.Width
            ? await CountAsync(user.TenantId(), from, to, shape.Bucket, store, counted, ct)
            : (await store.CountAsync(user.TenantId(), from, to, shape.Bucket, ct), await counted.LiveLatencyAsync(user.TenantId(), from, to, shape.Bucket, ct));
        long total = 0, delivered = 0, final = 0, fallbacks = 0;
        var waiting = Enum.GetValues<Priority>().Order().ToDictionary(p => p, _ => 0L);
        foreach (var count in counts)
        {
            total += count.Count;
            if (count.Status == NotificationStatus.Delivered)
            {
                delivered += count.Count;
            }

            if (count.Status.IsFinal())
            {
                final += count.Count;
                fallbacks += count.Fallbacks;
            }
            else
            {
                waiting[count.Priority] += count.Count;
            }
        }

        var histogram = new long[LatencyBins.Count];
        var perBucket = new SortedDictionary<DateTimeOffset, long[]>();
        foreach (var latency in latencies)
        {
            histogram[latency.Bin] += latency.Count;
            if (!perBucket.TryGetValue(latency.Bucket, out var bins))
            {
                perBucket[latency.Bucket] = bins = new long[LatencyBins.Count];
            }

            bins[latency.Bin] += latency.Count;
        }

        var overview = new Overview(
            range, from, to, (int)shape.Bucket.TotalSeconds, counts, total, delivered, final,
            final == 0 ? null : (double)delivered / final, [.. waiting.Select(static w => new LaneWaiting(w.Key, w.Value))],
            fallbacks, final == 0 ? null : (double)fallbacks / final,
            LatencyPercentiles.Of(null, histogram), [.. perBucket.Select(static b => LatencyPercentiles.Of(b.Key, b.Value))]);
        return TypedResults.Json(overview, OverviewJson.Default.Overview);
    }

    /// <summary>
    /// The range's counts and latency histograms from the 15-minute buckets counted once settled (<see cref="NotificationCounting"/>), and
    /// for the rest (the current bucket, the one that closed in the last five minutes, any not counted yet) from the notifications
    /// themselves; both summed into <paramref name="width"/>, which is a multiple of the count buckets'.
    /// </summary>
    private static async Task<(IReadOnlyList<NotificationCount> Counts, IReadOnlyList<LatencyCount> Latencies)> CountAsync(
        Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan width, INotificationStore live, INotificationCountStore counted, CancellationToken ct)
    {
        var complete = (await counted.BucketsAsync(from, to, ct))
            .Where(CountBuckets.IsComplete).Select(static b => b.Bucket).ToHashSet();
        var parts = new List<NotificationCount>();
        var latencies = new List<LatencyCount>();
        var start = from;
        while (start < to)
        {
            // The longest run of buckets from `start` that are all complete, or all not.
            var fromCounts = complete.Contains(start);
            var end = start;
            while (end < to && complete.Contains(end) == fromCounts)
            {
                end = end + CountBuckets.Width > to ? to : end + CountBuckets.Width;
            }

            parts.AddRange(fromCounts
                ? await counted.CountAsync(tenantId, start, end, width, ct)
                : await live.CountAsync(tenantId, start, end, width, ct));
            latencies.AddRange(fromCounts
                ? await counted.LatencyAsync(tenantId, start, end, width, ct)
                : await counted.LiveLatencyAsync(tenantId, start, end, width, ct));
            start = end;
        }

        return ([.. parts
            .GroupBy(static c => (c.Bucket, c.Channel, c.Status, c.Priority))
            .Select(static g => new NotificationCount(g.Key.Bucket, g.Key.Channel, g.Key.Status, g.Key.Priority, g.Sum(static c => c.Count))
            {
                Fallbacks = g.Sum(static c => c.Fallbacks),
            })
            .OrderBy(static c => c.Bucket).ThenBy(static c => c.Channel).ThenBy(static c => c.Status).ThenBy(static c => c.Priority)], latencies);
    }
}
