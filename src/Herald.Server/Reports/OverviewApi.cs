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
public sealed record Overview(
    string Range, DateTimeOffset From, DateTimeOffset To, int BucketSeconds, IReadOnlyList<NotificationCount> Counts,
    long Total, long Delivered, long Final, double? DeliveryRate, IReadOnlyList<LaneWaiting> Waiting);

/// <param name="Lane">The priority lane.</param>
/// <param name="Count">The tenant's notifications in that lane not yet final.</param>
public sealed record LaneWaiting(Priority Lane, long Count);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Overview))]
public sealed partial class OverviewJson : JsonSerializerContext;

/// <summary>
/// <c>GET /v1/stats/overview?range=1h|24h|7d</c> (keys with <c>read</c> or <c>admin</c>, or a console session): the
/// caller's tenant's notifications of the range per bucket (1 min, 15 min, 1 h), by channel, status and priority,
/// with the delivery rate and what waits per lane. The 1 h range is one grouped query over the id range of the time
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
            .WithSummary("The tenant's notifications over 1 h, 24 h or 7 d: per bucket by channel, status and priority; delivery rate; waiting per lane.")
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
        var counts = options.Value.Counting && shape.Bucket >= CountBuckets.Width
            ? await CountAsync(user.TenantId(), from, to, shape.Bucket, store, counted, ct)
            : await store.CountAsync(user.TenantId(), from, to, shape.Bucket, ct);
        long total = 0, delivered = 0, final = 0;
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
            }
            else
            {
                waiting[count.Priority] += count.Count;
            }
        }

        var overview = new Overview(
            range, from, to, (int)shape.Bucket.TotalSeconds, counts, total, delivered, final,
            final == 0 ? null : (double)delivered / final, [.. waiting.Select(static w => new LaneWaiting(w.Key, w.Value))]);
        return TypedResults.Json(overview, OverviewJson.Default.Overview);
    }

    /// <summary>
    /// The range's counts from the 15-minute buckets counted after they closed (<see cref="NotificationCounting"/>), and
    /// for the rest (the current bucket, any not counted yet or counted before it closed) from the notifications
    /// themselves; both summed into <paramref name="width"/>, which is a multiple of the count buckets'.
    /// </summary>
    private static async Task<IReadOnlyList<NotificationCount>> CountAsync(
        Guid tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan width, INotificationStore live, INotificationCountStore counted, CancellationToken ct)
    {
        var complete = (await counted.BucketsAsync(from, to, ct))
            .Where(static b => b.CountedAt >= b.Bucket + CountBuckets.Width).Select(static b => b.Bucket).ToHashSet();
        var parts = new List<NotificationCount>();
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
            start = end;
        }

        return [.. parts
            .GroupBy(static c => (c.Bucket, c.Channel, c.Status, c.Priority))
            .Select(static g => new NotificationCount(g.Key.Bucket, g.Key.Channel, g.Key.Status, g.Key.Priority, g.Sum(static c => c.Count)))
            .OrderBy(static c => c.Bucket).ThenBy(static c => c.Channel).ThenBy(static c => c.Status).ThenBy(static c => c.Priority)];
    }
}
