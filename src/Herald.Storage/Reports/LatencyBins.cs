using System.Globalization;
using System.Text;

namespace Herald.Storage;

/// <summary>
/// The overview's accept→delivered histogram (issue #19): fixed log-scale bins, so histograms of any buckets sum into one
/// and a percentile is read from the sum without the notifications. Bin <c>i</c> holds latencies under
/// <see cref="UpperBoundMs"/>(i) = 2^(i/3) ms (rounded to 0.01 ms) and not under the bound of bin <c>i - 1</c>: bin 0
/// everything under 1 ms, each bin 2^(1/3) ≈ 1.26 times as wide as the one before, the last finite bound 2^22 ms
/// (about 70 minutes), and the last bin (<see cref="Overflow"/>) everything from there on.
/// A percentile is reported as the upper bound of its bin: never below the true value, at most 26 % above it.
/// Both backends bin in SQL built from these bounds (<see cref="Sql"/>, <see cref="PostgresSql"/>).
/// </summary>
public static class LatencyBins
{
    /// <summary>Bins per doubling of the latency.</summary>
    public const int PerDoubling = 3;

    /// <summary>The number of bins, <see cref="Overflow"/> included.</summary>
    public const int Count = 22 * PerDoubling + 2;

    /// <summary>The last bin: latencies from 2^22 ms (about 70 minutes) on.</summary>
    public const int Overflow = Count - 1;

    private static readonly double[] Bounds = [.. Enumerable.Range(0, Overflow).Select(static i => Math.Round(Math.Pow(2, (double)i / PerDoubling), 2))];

    /// <summary>The exclusive upper bound of <paramref name="bin"/> in milliseconds; for <see cref="Overflow"/>, its
    /// inclusive lower bound (a percentile there is "at least this").</summary>
    public static double UpperBoundMs(int bin) => Bounds[Math.Clamp(bin, 0, Overflow - 1)];

    /// <summary>The bin of a latency of <paramref name="ms"/> milliseconds.</summary>
    public static int Of(double ms)
    {
        var bin = Array.BinarySearch(Bounds, ms);
        // Found: ms equals bin's bound, so it belongs to the next bin; not found: the first bound above ms.
        return bin >= 0 ? bin + 1 : ~bin;
    }

    /// <summary>SQL that bins the latency in milliseconds <paramref name="ms"/> (an expression), the same on both backends.</summary>
    public static string Sql(string ms)
    {
        var sql = new StringBuilder("CASE");
        for (var i = 0; i < Bounds.Length; i++)
        {
            sql.Append(CultureInfo.InvariantCulture, $" WHEN {ms} < {Bounds[i].ToString("R", CultureInfo.InvariantCulture)} THEN {i}");
        }

        return sql.Append(CultureInfo.InvariantCulture, $" ELSE {Overflow} END").ToString();
    }

    /// <summary>PostgreSQL's form of <see cref="Sql"/>, the same bins: <c>width_bucket</c> counts the bounds at or below
    /// the latency with a binary search over the bounds' array, evaluating <paramref name="ms"/> (a double precision
    /// expression) once instead of once per bound.</summary>
    public static string PostgresSql(string ms) =>
        $"width_bucket({ms}, '{{{string.Join(",", Bounds.Select(static b => b.ToString("R", CultureInfo.InvariantCulture)))}}}'::float8[])";

    /// <summary>The <paramref name="percentile"/> (1..100) of a histogram (<paramref name="counts"/>[bin]) by nearest
    /// rank, as its bin's <see cref="UpperBoundMs"/>; null for an empty histogram.</summary>
    public static double? Percentile(IReadOnlyList<long> counts, int percentile)
    {
        var total = counts.Sum();
        if (total == 0)
        {
            return null;
        }

        // The nearest rank, ceil(percentile × total / 100), in integers: exact for any total.
        var rank = Math.Max(1, ((percentile * total) + 99) / 100);
        long seen = 0;
        for (var bin = 0; bin < counts.Count; bin++)
        {
            seen += counts[bin];
            if (seen >= rank)
            {
                return UpperBoundMs(bin);
            }
        }

        return UpperBoundMs(Overflow);
    }
}
