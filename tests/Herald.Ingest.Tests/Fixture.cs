using System.Text;
using System.Text.Json;
using Herald.Ingest.Sources;

namespace Herald.Ingest.Tests;

/// <summary>Reads the files under Fixtures/ (copied next to the test assembly).</summary>
internal static class Fixture
{
    public static readonly Guid Tenant = Guid.Parse("0195a000-0000-7000-8000-000000000001");
    public static readonly Guid Source = Guid.Parse("0195a000-0000-7000-8000-000000000002");

    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static byte[] Bytes(string name) => File.ReadAllBytes(PathOf(name));

    public static string Text(string name) => File.ReadAllText(PathOf(name));

    public static SourceConfig Config(SourceAdapter adapter, string settingsFixture) => Config(adapter, Text(settingsFixture), out _);

    public static SourceConfig Config(SourceAdapter adapter, string settingsJson, out IReadOnlyList<InputError> errors)
    {
        using var document = JsonDocument.Parse(settingsJson);
        var (config, e) = SourceConfig.Parse(adapter, document.RootElement.Clone());
        errors = e;
        return config!;
    }

    public static MemoryStream Stream(string text) => new(Encoding.UTF8.GetBytes(text));
}

/// <summary>A read-only stream that produces <paramref name="lines"/> lines on demand: files of any size without the memory.</summary>
internal sealed class GeneratedStream(long lines, Func<long, string> line, bool newline = true) : Stream
{
    private long _next;
    private byte[] _pending = [];
    private int _offset;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var written = 0;
        while (written < buffer.Length)
        {
            if (_offset == _pending.Length)
            {
                if (_next >= lines)
                {
                    break;
                }

                _pending = Encoding.UTF8.GetBytes(newline ? line(_next++) + "\n" : line(_next++));
                _offset = 0;
            }

            var n = Math.Min(buffer.Length - written, _pending.Length - _offset);
            _pending.AsSpan(_offset, n).CopyTo(buffer[written..]);
            _offset += n;
            written += n;
        }

        return written;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
