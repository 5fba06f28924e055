namespace Herald.Core.Notifications;

/// <summary>
/// UUIDv7 ids (RFC 9562) that sort in the order this process made them. <see cref="Guid.CreateVersion7(DateTimeOffset)"/>
/// fills the 12 bits after the millisecond with random bits, so two ids of one millisecond sort by chance: two consents
/// recorded in one millisecond listed newest-first in either order. Here those 12 bits count within the millisecond
/// (RFC 9562 §6.2, method 1); the 62 bits after them stay random, so ids of different nodes still never collide.
/// Another millisecond, earlier or later (a clock stepping back, fake clocks in tests), starts the count again: ids stay
/// ids of their own time, never of the future, so creation-time ranges (<see cref="Floor"/>) keep finding them; only
/// ids of a millisecond revisited sort among that millisecond's earlier ones by chance. 4,096 ids in one millisecond
/// start the count again too.
/// </summary>
public static class TimeOrderedIds
{
    private const int CounterBits = 12;
    private const long CounterMask = (1 << CounterBits) - 1;
    private static long _last; // unix ms << 12 | counter of the last id made

    public static Guid New(DateTimeOffset time)
    {
        var ms = time.ToUnixTimeMilliseconds();
        long last, next;
        do
        {
            last = Volatile.Read(ref _last);
            next = last >> CounterBits == ms && (last & CounterMask) < CounterMask ? last + 1 : ms << CounterBits;
        }
        while (Interlocked.CompareExchange(ref _last, next, last) != last);

        Span<byte> bytes = stackalloc byte[16];
        // Guid.NewGuid's bytes are from the OS's CSPRNG without OpenSSL's per-call locking and error-queue clearing.
        Guid.NewGuid().TryWriteBytes(bytes, bigEndian: true, out _);
        var counter = (int)(next & CounterMask);
        bytes[0] = (byte)(ms >> 40);
        bytes[1] = (byte)(ms >> 32);
        bytes[2] = (byte)(ms >> 24);
        bytes[3] = (byte)(ms >> 16);
        bytes[4] = (byte)(ms >> 8);
        bytes[5] = (byte)ms;
        bytes[6] = (byte)(0x70 | (counter >> 8)); // version 7, counter's high 4 bits
        bytes[7] = (byte)counter;
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // variant 10
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>The smallest UUIDv7 of a millisecond: notification ids are UUIDv7 made from their creation time, so a
    /// creation-time range is an id range, which the (tenant_id, id) index answers without an index of its own.</summary>
    public static Guid Floor(DateTimeOffset time) =>
        Guid.ParseExact($"{time.ToUnixTimeMilliseconds():x12}".Insert(8, "-") + "-0000-0000-000000000000", "D");
}
