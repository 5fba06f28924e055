using System.Collections.Concurrent;

namespace Herald.Channels.Sms.Smpp;

/// <summary>
/// The SMSC message ids of the second and later parts of concatenated messages this process sent, so their
/// receipts are recognised and dropped (the first part's id is the one Herald records). Bounded: beyond
/// <see cref="Capacity"/> ids the oldest half is forgotten; receipts for a forgotten or pre-restart part then reach
/// the receipt processor, which finds no attempt for them and leaves them to expire as unmatched receipts.
/// </summary>
public sealed class SmppMultipartIds
{
    public const int Capacity = 200_000;

    private readonly ConcurrentDictionary<string, long> _secondary = new(StringComparer.Ordinal);
    private long _clock;

    public void Record(IReadOnlyList<string> partIds)
    {
        for (var i = 1; i < partIds.Count; i++)
        {
            _secondary[partIds[i]] = Interlocked.Increment(ref _clock);
        }

        if (_secondary.Count > Capacity)
        {
            var cutoff = Interlocked.Read(ref _clock) - (Capacity / 2);
            foreach (var (id, at) in _secondary)
            {
                if (at < cutoff)
                {
                    _secondary.TryRemove(id, out _);
                }
            }
        }
    }

    /// <summary>Whether the id is a later part of a concatenated message.</summary>
    public bool IsSecondary(string messageId) => _secondary.ContainsKey(messageId);
}
