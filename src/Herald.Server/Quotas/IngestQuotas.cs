using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Claims;
using Herald.Server.Authentication;
using Herald.Storage;
using Herald.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Herald.Server.Quotas;

/// <summary>A quota the request would exceed, and when to try again.</summary>
/// <param name="Quota">"requests", "notifications" or "backlog".</param>
public sealed record QuotaRefusal(string Quota, TimeSpan RetryAfter, string Detail)
{
    /// <summary>429 problem+json with <c>Retry-After</c> in whole seconds (at least one).</summary>
    public IResult ToResult(HttpContext context)
    {
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Problems.Result(StatusCodes.Status429TooManyRequests, "quota-exceeded", "The tenant's ingest quota is exceeded.", Detail);
    }

    public long RetryAfterSeconds => Math.Max(1, (long)Math.Ceiling(RetryAfter.TotalSeconds));
}

/// <summary>
/// Per-tenant ingest quotas (docs/OPERATIONS.md "Tenant weights and quotas"): requests and notifications per second,
/// cluster-wide on Redis when it answers (a GCRA schedule per tenant and quota, on Redis's clock) and on the node's
/// own schedule when it does not; and a backlog ceiling checked against a per-node count of the tenant's queued
/// notifications, taken again at most every <see cref="QuotaOptions.BacklogRefresh"/> and bounded by the ceiling
/// (so never a count over a million rows per request), plus what the node accepted since.
/// </summary>
public sealed partial class IngestQuotas(
    ITenantStore tenants, IDeliveryStore delivery, RedisConnection redis, TimeProvider time, IOptions<QuotaOptions> options, ILogger<IngestQuotas> logger)
{
    // Same algorithm as IngestRate.Take. Times in microseconds; ARGV: interval, burst, units. Returns 0 or the wait.
    private const string TakeScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local units = tonumber(ARGV[3])
        local tat = tonumber(redis.call('GET', KEYS[1])) or 0
        if tat < now then tat = now end
        if tat - now > burst then return tat - now - burst end
        tat = tat + interval * units
        redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
        return 0
        """;

    private readonly ConcurrentDictionary<Guid, (TenantLimits Limits, long LoadedAt)> _limits = new();
    private readonly ConcurrentDictionary<string, LocalSchedule> _local = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, Backlog> _backlogs = new();

    private QuotaOptions Options => options.Value;

    /// <summary>One ingest request: the requests-per-second quota, and the backlog ceiling (already reached?).</summary>
    public async Task<QuotaRefusal?> CheckRequestAsync(Guid tenantId, CancellationToken ct)
    {
        var limits = await LimitsAsync(tenantId, ct);
        return await CheckBacklogAsync(tenantId, limits, 0, ct)
            ?? await TakeRateAsync(tenantId, "requests", limits.RequestsPerSecond ?? Options.RequestsPerSecond, 1, ct);
    }

    /// <summary><paramref name="count"/> notifications about to be accepted (a whole batch at once): the backlog
    /// ceiling with them, then the notifications-per-second quota. Taken ones count in the backlog at once.</summary>
    public async Task<QuotaRefusal?> TakeNotificationsAsync(Guid tenantId, int count, CancellationToken ct)
    {
        var limits = await LimitsAsync(tenantId, ct);
        var refused = await CheckBacklogAsync(tenantId, limits, count, ct)
            ?? await TakeRateAsync(tenantId, "notifications", limits.NotificationsPerSecond ?? Options.NotificationsPerSecond, count, ct);
        if (refused is null && _backlogs.TryGetValue(tenantId, out var backlog))
        {
            Interlocked.Add(ref backlog.AddedSince, count);
        }

        return refused;
    }

    /// <summary>Drops this node's copy of the tenant's limits (the operator just changed them here).</summary>
    public void Forget(Guid tenantId) => _limits.TryRemove(tenantId, out _);

    private async ValueTask<TenantLimits> LimitsAsync(Guid tenantId, CancellationToken ct)
    {
        var now = time.GetTimestamp();
        if (_limits.TryGetValue(tenantId, out var cached) && time.GetElapsedTime(cached.LoadedAt, now) < Options.LimitsRefresh)
        {
            return cached.Limits;
        }

        var limits = await tenants.GetLimitsAsync(tenantId, ct) ?? TenantLimits.Default;
        _limits[tenantId] = (limits, now);
        return limits;
    }

    private async ValueTask<QuotaRefusal?> CheckBacklogAsync(Guid tenantId, TenantLimits limits, int adding, CancellationToken ct)
    {
        if ((limits.BacklogLimit ?? Options.Backlog) is not { } ceiling)
        {
            return null;
        }

        var backlog = _backlogs.GetOrAdd(tenantId, static _ => new Backlog());
        if (Stale(backlog))
        {
            // One count at a time per tenant and node; the others wait for it rather than count too.
            await backlog.Gate.WaitAsync(ct);
            try
            {
                if (Stale(backlog))
                {
                    var count = await delivery.CountQueuedAsync(tenantId, ceiling + 1, ct);
                    Interlocked.Exchange(ref backlog.AddedSince, 0);
                    Volatile.Write(ref backlog.Count, count);
                    Volatile.Write(ref backlog.CountedAt, time.GetTimestamp());
                }
            }
            finally
            {
                backlog.Gate.Release();
            }
        }

        var queued = Volatile.Read(ref backlog.Count) + Interlocked.Read(ref backlog.AddedSince);
        if (adding == 0 ? queued < ceiling : queued + adding <= ceiling)
        {
            return null;
        }

        LogRefused(logger, tenantId, "backlog");
        var retry = Options.BacklogRefresh - time.GetElapsedTime(Volatile.Read(ref backlog.CountedAt));
        return new QuotaRefusal("backlog", retry, adding > 1
            ? $"The tenant has about {queued} queued notifications; {adding} more would exceed its backlog ceiling of {ceiling}."
            : $"The tenant has about {queued} queued notifications, its backlog ceiling is {ceiling}.");
    }

    private bool Stale(Backlog backlog) =>
        Volatile.Read(ref backlog.CountedAt) is var counted && (counted == 0 || time.GetElapsedTime(counted) >= Options.BacklogRefresh);

    private async ValueTask<QuotaRefusal?> TakeRateAsync(Guid tenantId, string quota, double? perSecond, int units, CancellationToken ct)
    {
        if (perSecond is not { } rate || units <= 0)
        {
            return null;
        }

        var interval = IngestRate.Interval(rate);
        var burst = (long)(Options.BurstSeconds * 1_000_000);
        var key = Options.KeyPrefix + tenantId.ToString("N") + ":" + quota;
        var wait = await TakeSharedAsync(key, interval, burst, units, ct) ?? TakeLocal(key, interval, burst, units);
        if (wait == 0)
        {
            return null;
        }

        LogRefused(logger, tenantId, quota);
        return new QuotaRefusal(quota, TimeSpan.FromMicroseconds(wait),
            $"The tenant may send {rate.ToString(CultureInfo.InvariantCulture)} {quota} per second; this request took {units}.");
    }

    /// <summary>The cluster-wide decision; null when Redis is not configured or did not answer in time.</summary>
    private async Task<long?> TakeSharedAsync(string key, long interval, long burst, int units, CancellationToken ct)
    {
        if (redis.Multiplexer is not { IsConnected: true } multiplexer)
        {
            return null;
        }

        Task<RedisResult>? call = null;
        try
        {
            call = multiplexer.GetDatabase().ScriptEvaluateAsync(TakeScript, [key], [interval, burst, units]);
            return (long)await call.WaitAsync(Options.RedisTimeout, time, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Slow or gone: the node decides alone; a late answer may still count the units there (errs on the safe side).
            LogRedisUnavailable(logger, e.GetType().Name);
            if (call is { IsCompleted: false })
            {
                _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }

            return null;
        }
    }

    private long TakeLocal(string key, long interval, long burst, int units)
    {
        var schedule = _local.GetOrAdd(key, static _ => new LocalSchedule());
        var now = (long)((Int128)time.GetTimestamp() * 1_000_000 / time.TimestampFrequency);
        lock (schedule)
        {
            return IngestRate.Take(ref schedule.Tat, now, interval, burst, units);
        }
    }

    [LoggerMessage(4700, LogLevel.Debug, "Tenant {TenantId} refused: its {Quota} quota is exceeded")]
    private static partial void LogRefused(ILogger logger, Guid tenantId, string quota);

    [LoggerMessage(4701, LogLevel.Debug, "Ingest quota decided on this node: Redis did not answer ({Reason})")]
    private static partial void LogRedisUnavailable(ILogger logger, string reason);

    private sealed class LocalSchedule
    {
        public long Tat;
    }

    private sealed class Backlog
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public long Count;
        public long AddedSince;
        /// <summary>Timestamp of the last count; 0 before the first.</summary>
        public long CountedAt;
    }
}

/// <summary>Runs the per-request checks of <see cref="IngestQuotas"/> before an ingest endpoint reads its body.</summary>
public sealed class IngestQuotaFilter(IngestQuotas quotas) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (http.User.FindFirstValue(ApiKeyAuthenticationHandler.TenantClaim) is { } claim && Guid.TryParse(claim, out var tenantId)
            && await quotas.CheckRequestAsync(tenantId, http.RequestAborted) is { } refused)
        {
            return refused.ToResult(http);
        }

        return await next(context);
    }
}
