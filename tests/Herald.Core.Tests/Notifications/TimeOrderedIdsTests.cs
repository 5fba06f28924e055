using Herald.Core.Notifications;

namespace Herald.Core.Tests.Notifications;

/// <summary>Alone: the order is per process, and other classes' ids of other (fake) times in between would reset the
/// millisecond's counter, as a clock stepping back does.</summary>
[Collection(nameof(TimeOrderedIdsCollection))]
public sealed class TimeOrderedIdsTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 15, 0, 0, 123, TimeSpan.Zero);

    [Fact]
    public void IdsOfOneMillisecond_SortInTheOrderTheyWereMade_AsBytesAndAsText()
    {
        var ids = Enumerable.Range(0, 3000).Select(_ => TimeOrderedIds.New(Now)).ToList();

        Assert.Equal(ids, ids.Order(Comparer<Guid>.Create(CompareAsPostgresDoes)));
        Assert.Equal(ids.Select(id => id.ToString("D")), ids.Select(id => id.ToString("D")).Order(StringComparer.Ordinal));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void AnId_IsAVersion7Uuid_InsideItsMillisecondsRange()
    {
        var id = TimeOrderedIds.New(Now);

        Assert.Equal(7, id.Version);
        Assert.Equal(0b10, id.Variant >> 2); // RFC 9562's variant: the two high bits of byte 8 are 10
        Assert.True(CompareAsPostgresDoes(TimeOrderedIds.Floor(Now), id) <= 0);
        Assert.True(CompareAsPostgresDoes(id, TimeOrderedIds.Floor(Now.AddMilliseconds(1))) < 0);
    }

    [Fact]
    public void AClockGoingBack_GetsIdsOfItsOwnTime_NotOfTheFuture()
    {
        TimeOrderedIds.New(Now.AddSeconds(5));
        var earlier = TimeOrderedIds.New(Now);

        Assert.True(CompareAsPostgresDoes(TimeOrderedIds.Floor(Now), earlier) <= 0);
        Assert.True(CompareAsPostgresDoes(earlier, TimeOrderedIds.Floor(Now.AddMilliseconds(1))) < 0);
    }

    /// <summary>PostgreSQL compares uuids byte by byte in RFC order (big-endian), not as .NET's <see cref="Guid.CompareTo(Guid)"/>.</summary>
    private static int CompareAsPostgresDoes(Guid a, Guid b)
    {
        Span<byte> x = stackalloc byte[16];
        Span<byte> y = stackalloc byte[16];
        a.TryWriteBytes(x, bigEndian: true, out _);
        b.TryWriteBytes(y, bigEndian: true, out _);
        return x.SequenceCompareTo(y);
    }
}

[CollectionDefinition(nameof(TimeOrderedIdsCollection), DisableParallelization = true)]
public sealed class TimeOrderedIdsCollection;
