namespace Herald.Server.Quotas;

/// <summary>
/// GCRA with a burst, for ingest quotas: a request of <c>n</c> units is taken when the schedule's theoretical arrival
/// time (<c>tat</c>) is at most <c>burst</c> ahead of now, and then moves it <c>n</c> emission intervals
/// on. So a tenant gets its rate on average and at most a burst's worth (plus one request) at once; a batch bigger
/// than the burst goes through when the tenant is within its rate and its debt delays what follows. A refusal
/// changes nothing and says when the schedule comes within the burst again. The Lua script in
/// <see cref="IngestQuotas"/> is the same algorithm on Redis's clock. Times are in microseconds.
/// </summary>
public static class IngestRate
{
    /// <returns>Zero when taken (and <paramref name="tat"/> moved), otherwise the microseconds to wait.</returns>
    public static long Take(ref long tat, long now, long interval, long burst, int units)
    {
        var start = Math.Max(tat, now);
        if (start - now > burst)
        {
            return start - now - burst;
        }

        tat = start + (interval * Math.Max(1, units));
        return 0;
    }

    /// <summary>The emission interval of a rate per second, in microseconds (at least one).</summary>
    public static long Interval(double perSecond) => Math.Max(1, (long)Math.Round(1_000_000 / perSecond));
}
