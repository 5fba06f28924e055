using System.Buffers.Binary;

namespace Herald.Channels.Sms.Smpp;

/// <summary>
/// PDU framing over one stream: reads whole PDUs (the 16-octet header first, then exactly command_length − 16
/// octets, never more than <see cref="SmppCodec.MaxPduLength"/>) and writes PDUs one at a time. Shared by Herald's
/// client and the sandbox SMSC.
/// </summary>
public sealed class SmppConnection(Stream stream) : IAsyncDisposable
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    /// <summary>The next whole PDU, or null when the peer closed the stream between PDUs.</summary>
    /// <exception cref="SmppProtocolException">command_length is out of range: the stream cannot be re-synchronised.</exception>
    /// <exception cref="EndOfStreamException">The stream ended inside a PDU.</exception>
    public async Task<byte[]?> ReadFrameAsync(CancellationToken ct)
    {
        var header = new byte[SmppCodec.HeaderLength];
        var read = await stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (read == 0)
        {
            return null;
        }

        if (read < header.Length)
        {
            throw new EndOfStreamException("the stream ended inside a PDU header");
        }

        var length = SmppCodec.ReadLength(header);
        var frame = new byte[length];
        header.CopyTo(frame, 0);
        await stream.ReadExactlyAsync(frame.AsMemory(SmppCodec.HeaderLength), ct).ConfigureAwait(false);
        return frame;
    }

    public async Task WriteAsync(SmppPdu pdu, CancellationToken ct)
    {
        var bytes = SmppCodec.Encode(pdu);
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(bytes, ct).ConfigureAwait(false);
            await stream.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>command_id and sequence_number of a frame that did not decode, to answer it with generic_nack.</summary>
    public static (uint CommandId, uint Sequence) Peek(byte[] frame) =>
        (BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(4)), BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(12)));

    public async ValueTask DisposeAsync()
    {
        // The write lock is not disposed: a writer that failed on the closed stream still releases it.
        await stream.DisposeAsync().ConfigureAwait(false);
    }
}
