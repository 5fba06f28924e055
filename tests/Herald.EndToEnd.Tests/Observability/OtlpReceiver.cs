using System.Collections.Concurrent;
using Google.Protobuf;
using Herald.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Herald.EndToEnd.Tests.Observability;

/// <summary>
/// A tracing back end on loopback that takes OTLP/HTTP protobuf exports (<c>POST /v1/traces</c>), as an OpenTelemetry
/// collector does, and keeps every span with its process's resource attributes. Decoded field by field with
/// Google.Protobuf's reader after opentelemetry-proto's trace.proto (ExportTraceServiceRequest → ResourceSpans →
/// ScopeSpans → Span), so it depends on the wire format only, not on the exporter's code.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app, int port)
    {
        _app = app;
        Endpoint = $"http://127.0.0.1:{port}";
    }

    /// <summary>The value for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public string Endpoint { get; }

    public ConcurrentQueue<ReceivedSpan> Spans { get; } = new();

    public static async Task<OtlpReceiver> StartAsync()
    {
        var port = FreePort.Pick();
        var builder = WebApplication.CreateSlimBuilder(["--urls", $"http://127.0.0.1:{port}"]);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new OtlpReceiver(app, port);
        app.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer);
            foreach (var span in Decode(buffer.ToArray()))
            {
                receiver.Spans.Enqueue(span);
            }

            // An empty ExportTraceServiceResponse: everything accepted.
            return Results.Bytes([], "application/x-protobuf");
        });
        await app.StartAsync();
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }


    /// <summary>ExportTraceServiceRequest: field 1 = ResourceSpans.</summary>
    private static List<ReceivedSpan> Decode(byte[] body)
    {
        var spans = new List<ReceivedSpan>();
        var input = new CodedInputStream(body);
        while (input.ReadTag() is var tag and not 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == 1)
            {
                DecodeResourceSpans(input.ReadBytes().ToByteArray(), spans);
            }
            else
            {
                input.SkipLastField();
            }
        }

        return spans;
    }

    /// <summary>ResourceSpans: 1 = Resource (1 = attributes), 2 = ScopeSpans (2 = spans).</summary>
    private static void DecodeResourceSpans(byte[] bytes, List<ReceivedSpan> into)
    {
        var resource = new Dictionary<string, string>(StringComparer.Ordinal);
        var scopeSpans = new List<byte[]>();
        var input = new CodedInputStream(bytes);
        while (input.ReadTag() is var tag and not 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    var r = new CodedInputStream(input.ReadBytes().ToByteArray());
                    while (r.ReadTag() is var rt and not 0)
                    {
                        if (WireFormat.GetTagFieldNumber(rt) == 1)
                        {
                            var (key, value) = DecodeKeyValue(r.ReadBytes().ToByteArray());
                            resource[key] = value;
                        }
                        else
                        {
                            r.SkipLastField();
                        }
                    }

                    break;
                case 2:
                    scopeSpans.Add(input.ReadBytes().ToByteArray());
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        foreach (var scope in scopeSpans)
        {
            var s = new CodedInputStream(scope);
            while (s.ReadTag() is var st and not 0)
            {
                if (WireFormat.GetTagFieldNumber(st) == 2)
                {
                    into.Add(DecodeSpan(s.ReadBytes().ToByteArray(), resource));
                }
                else
                {
                    s.SkipLastField();
                }
            }
        }
    }

    /// <summary>Span: 1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind, 9 attributes.</summary>
    private static ReceivedSpan DecodeSpan(byte[] bytes, IReadOnlyDictionary<string, string> resource)
    {
        string traceId = "", spanId = "", parentId = "", name = "";
        var kind = 0;
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var input = new CodedInputStream(bytes);
        while (input.ReadTag() is var tag and not 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: traceId = Convert.ToHexStringLower(input.ReadBytes().Span); break;
                case 2: spanId = Convert.ToHexStringLower(input.ReadBytes().Span); break;
                case 4: parentId = Convert.ToHexStringLower(input.ReadBytes().Span); break;
                case 5: name = input.ReadString(); break;
                case 6: kind = input.ReadEnum(); break;
                case 9:
                    var (key, value) = DecodeKeyValue(input.ReadBytes().ToByteArray());
                    attributes[key] = value;
                    break;
                default: input.SkipLastField(); break;
            }
        }

        return new ReceivedSpan(traceId, spanId, parentId, name, kind, attributes, resource);
    }

    /// <summary>KeyValue: 1 key, 2 AnyValue (1 string, 2 bool, 3 int, 4 double; others kept as their kind).</summary>
    private static (string Key, string Value) DecodeKeyValue(byte[] bytes)
    {
        string key = "", value = "";
        var input = new CodedInputStream(bytes);
        while (input.ReadTag() is var tag and not 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == 1)
            {
                key = input.ReadString();
            }
            else if (WireFormat.GetTagFieldNumber(tag) == 2)
            {
                var any = new CodedInputStream(input.ReadBytes().ToByteArray());
                while (any.ReadTag() is var at and not 0)
                {
                    value = WireFormat.GetTagFieldNumber(at) switch
                    {
                        1 => any.ReadString(),
                        2 => any.ReadBool() ? "true" : "false",
                        3 => any.ReadInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
                        4 => any.ReadDouble().ToString(System.Globalization.CultureInfo.InvariantCulture),
                        _ => Skip(any),
                    };
                }
            }
            else
            {
                input.SkipLastField();
            }
        }

        return (key, value);
    }

    private static string Skip(CodedInputStream input)
    {
        input.SkipLastField();
        return "(complex)";
    }
}

/// <param name="ParentId">Hex span id of the parent; empty for a root span.</param>
/// <param name="Kind">OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.</param>
/// <param name="Resource">The exporting process's resource attributes (service.name, herald.role, ...).</param>
public sealed record ReceivedSpan(
    string TraceId, string SpanId, string ParentId, string Name, int Kind,
    IReadOnlyDictionary<string, string> Attributes, IReadOnlyDictionary<string, string> Resource);
