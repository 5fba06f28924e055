using System.Globalization;
using System.Text.Json.Nodes;
using Herald.Ingest.Authentication;
using Herald.Storage;

namespace Herald.Server.Audit;

/// <summary>
/// Refused authentication, in aggregate (issue #17): a row per 401 would let a scanner fill the trail, so refusals of a
/// bearer key are counted per minute and key prefix (<c>hk_</c> and 6 characters, what key listings show; anything
/// else counts as <c>other</c>) and each minute is written as one entry of the system chain (the tenant of an unknown
/// key is unknown). At most <see cref="MaxPrefixesPerMinute"/> prefixes a minute are told apart; the rest count as
/// <c>more</c>. Counts live in the node's memory until flushed: a crash loses at most the last minute.
/// </summary>
public sealed partial class AuthRefusals(IAuditStore store, TimeProvider time, ILogger<AuthRefusals> logger) : BackgroundService
{
    public const string Action = "auth.refused";
    public const int MaxPrefixesPerMinute = 100;

    private static readonly TimeSpan Period = TimeSpan.FromSeconds(15);

    private readonly Lock _lock = new();
    private readonly SortedDictionary<long, Dictionary<string, long>> _minutes = [];

    /// <summary>Counts one refused key (the raw key as presented; only its display prefix is kept).</summary>
    public void Count(string presentedKey)
    {
        var prefix = presentedKey.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal) ? ApiKeys.DisplayPrefix(presentedKey) : "other";
        var minute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        lock (_lock)
        {
            if (!_minutes.TryGetValue(minute, out var counts))
            {
                _minutes[minute] = counts = new Dictionary<string, long>(StringComparer.Ordinal);
            }

            if (!counts.ContainsKey(prefix) && counts.Count >= MaxPrefixesPerMinute)
            {
                prefix = "more";
            }

            counts[prefix] = counts.GetValueOrDefault(prefix) + 1;
        }
    }

    /// <summary>Writes one entry per finished minute (every minute when <paramref name="all"/>, as at shutdown).</summary>
    public async Task FlushAsync(bool all, CancellationToken ct)
    {
        var current = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        List<(long Minute, Dictionary<string, long> Counts)> due;
        lock (_lock)
        {
            due = [.. _minutes.Where(m => all || m.Key < current).Select(m => (m.Key, m.Value))];
            foreach (var (minute, _) in due)
            {
                _minutes.Remove(minute);
            }
        }

        foreach (var (minute, counts) in due)
        {
            var start = DateTimeOffset.FromUnixTimeSeconds(minute * 60);
            var byPrefix = new JsonObject();
            foreach (var (prefix, count) in counts.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                byPrefix[prefix] = count;
            }

            var after = new JsonObject { ["minute"] = start.ToString("yyyy-MM-ddTHH:mmZ", CultureInfo.InvariantCulture), ["refused"] = counts.Values.Sum(), ["byPrefix"] = byPrefix };
            await store.AppendAsync(
                new AuditChange(null, time.GetUtcNow(), AuditActor.Herald, Action, "authentication", start.ToString("yyyy-MM-ddTHH:mmZ", CultureInfo.InvariantCulture),
                    AuditRecorder.Diff(null, after)),
                ct);
        }
    }

    /// <summary>Counts the request when its bearer key was refused (a 401 answer to a request that presented one and
    /// did not authenticate). A refused source signature on an accepted key is not counted: the key was fine.</summary>
    public static async Task MiddlewareAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);
        if (context.Response.StatusCode == StatusCodes.Status401Unauthorized
            && context.User.Identity?.IsAuthenticated != true
            && context.Request.Headers.Authorization.ToString() is { } header
            && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            context.RequestServices.GetRequiredService<AuthRefusals>().Count(header["Bearer ".Length..].Trim());
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await TryFlushAsync(all: false, stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await TryFlushAsync(all: true, cancellationToken);
    }

    private async Task TryFlushAsync(bool all, CancellationToken ct)
    {
        try
        {
            await FlushAsync(all, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The counts of the failed minutes are gone; the trail says so in the log rather than stopping the host.
            LogFlushFailed(logger, e);
        }
    }

    [LoggerMessage(4700, LogLevel.Warning, "Could not write the refused-authentication counts to the audit trail")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);
}
