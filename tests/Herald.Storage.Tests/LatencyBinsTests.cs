namespace Herald.Storage.Tests;

/// <summary><see cref="LatencyBins"/>: the overview's log-scale bins, their bounds and nearest-rank percentiles.</summary>
public sealed class LatencyBinsTests
{
    [Fact]
    public void Bins_AreCubeRootsOfTwoWide_FromOneMillisecondToAbout70Minutes()
    {
        Assert.Equal(68, LatencyBins.Count);
        Assert.Equal(0, LatencyBins.Of(0));
        Assert.Equal(0, LatencyBins.Of(0.99));
        Assert.Equal(1, LatencyBins.Of(1));               // a bound belongs to the bin above it
        Assert.Equal(1.0, LatencyBins.UpperBoundMs(0));
        Assert.Equal(1.26, LatencyBins.UpperBoundMs(1));
        Assert.Equal(1024.0, LatencyBins.UpperBoundMs(30));
        Assert.Equal(4_194_304.0, LatencyBins.UpperBoundMs(66));
        Assert.Equal(LatencyBins.Overflow, LatencyBins.Of(4_194_304));
        Assert.Equal(LatencyBins.Overflow, LatencyBins.Of(TimeSpan.FromDays(3).TotalMilliseconds));
        for (var bin = 1; bin < LatencyBins.Overflow; bin++)
        {
            var ratio = LatencyBins.UpperBoundMs(bin) / LatencyBins.UpperBoundMs(bin - 1);
            Assert.InRange(ratio, 1.24, 1.28);
            Assert.Equal(bin, LatencyBins.Of(LatencyBins.UpperBoundMs(bin) - 0.001));
        }
    }

    [Fact]
    public void Percentile_IsTheUpperBoundOfTheNearestRanksBin()
    {
        var counts = new long[LatencyBins.Count];
        counts[LatencyBins.Of(250)] = 19;
        counts[LatencyBins.Of(600_000)] = 1;

        Assert.Equal(LatencyBins.UpperBoundMs(LatencyBins.Of(250)), LatencyBins.Percentile(counts, 50));
        // 95 % of 20 is exactly rank 19: still a fast one; 99 % is rank 20, the slow one.
        Assert.Equal(LatencyBins.UpperBoundMs(LatencyBins.Of(250)), LatencyBins.Percentile(counts, 95));
        Assert.Equal(LatencyBins.UpperBoundMs(LatencyBins.Of(600_000)), LatencyBins.Percentile(counts, 99));
        Assert.InRange(LatencyBins.Percentile(counts, 99)!.Value, 600_000, 600_000 * 1.26);
        Assert.Null(LatencyBins.Percentile(new long[LatencyBins.Count], 50));
    }
}
