using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Herald.Ingest;

namespace Herald.Server.Notifications;

/// <summary>Reads a bounded JSON request body, answering 413/415 problems instead of reading without limit.</summary>
public static class RequestBody
{
    /// <param name="storableChecked">False for a batch whose items are checked one by one (a refused value rejects its
    /// item, not the batch); otherwise a value that storage cannot hold (<see cref="StorableText"/>) is a located 400.</param>
    public static async Task<(ReadOnlyMemory<byte> Body, IResult? Error)> ReadJsonAsync(HttpRequest request, int maxBytes, bool storableChecked = true)
    {
        if (request.ContentType is not { } contentType || !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (default, Problems.Result(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type",
                "The body must be JSON.", "Send 'Content-Type: application/json'."));
        }

        var (body, error) = await ReadAsync(request, maxBytes);
        if (error is not null)
        {
            return (default, error);
        }

        // JSON is UTF-8 (RFC 8259): refused here, invalid bytes inside a string would only fail later, when the value
        // is read as text, and answer 500.
        return body.Length == 0 ? (default, Problems.Invalid([new InputError("/", "The body is empty; a JSON object is required.")]))
            : !System.Text.Unicode.Utf8.IsValid(body.Span) ? (default, Problems.Invalid([new InputError("/", "The body is not valid UTF-8.")]))
            : storableChecked && StorableText.Find(body.Span) is { } unstorable ? (default, Problems.Invalid([unstorable]))
            : (body, null);
    }

    /// <summary>Reads the whole body, of any type, up to <paramref name="maxBytes"/> (a 413 problem past it).</summary>
    public static async Task<(ReadOnlyMemory<byte> Body, IResult? Error)> ReadAsync(HttpRequest request, int maxBytes)
    {
        if (request.ContentLength > maxBytes)
        {
            return (default, TooLarge(maxBytes));
        }

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and var length ? (int)length : 4096);
        while (true)
        {
            var memory = buffer.GetMemory(4096);
            var read = await request.Body.ReadAsync(memory, request.HttpContext.RequestAborted);
            if (read == 0)
            {
                break;
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes)
            {
                return (default, TooLarge(maxBytes));
            }
        }

        return (buffer.WrittenMemory, null);
    }

    /// <summary>Reads a bounded JSON body and deserializes it as <typeparamref name="T"/>: a malformed body, an unknown
    /// field (where the type refuses them) or a JSON null is a 400 problem located by its JSON Pointer.</summary>
    public static async Task<(T? Body, IResult? Error)> ReadJsonAsync<T>(HttpRequest request, int maxBytes, JsonTypeInfo<T> type)
        where T : class
    {
        var (raw, error) = await ReadJsonAsync(request, maxBytes);
        if (error is not null)
        {
            return (null, error);
        }

        try
        {
            return JsonSerializer.Deserialize(raw.Span, type) is { } body
                ? (body, null)
                : (null, Problems.Invalid([new InputError("/", "A JSON object is required.")]));
        }
        catch (JsonException e)
        {
            return (null, Problems.Invalid([new InputError(Pointer(e.Path), "Malformed or unknown field: " + e.Message)]));
        }
    }

    /// <summary>
    /// Middleware: query values and the path reach SQL as parameters (a search by <c>externalId</c>, a customer id in the
    /// path), so a value storage cannot hold (<see cref="StorableText"/>) is a located 400 here, not a database error
    /// that would be answered as an outage (503).
    /// </summary>
    public static Task RefuseUnstorableQueryAsync(HttpContext context, RequestDelegate next)
    {
        if (!StorableText.IsStorable(context.Request.Path.Value))
        {
            return Problems.Invalid([new InputError("path", StorableText.TextDetail)]).ExecuteAsync(context);
        }

        foreach (var (name, values) in context.Request.Query)
        {
            if (!StorableText.IsStorable(name) || values.Any(v => !StorableText.IsStorable(v)))
            {
                return Problems.Invalid([new InputError("query/" + name, StorableText.TextDetail)]).ExecuteAsync(context);
            }
        }

        return next(context);
    }

    /// <summary>The JSON Pointer of a System.Text.Json path (<c>$.a.b[2]</c> → <c>/a/b/2</c>).</summary>
    public static string Pointer(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) || jsonPath == "$" ? "/"
        : jsonPath.TrimStart('$').Replace('.', '/').Replace("[", "/", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal);

    private static IResult TooLarge(int maxBytes) =>
        Problems.Result(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "The body is too large.", $"At most {maxBytes} bytes.");
}
