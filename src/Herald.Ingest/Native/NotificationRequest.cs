using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Core.Notifications;

namespace Herald.Ingest.Native;

// Settable, not init-only, like the other request shapes here: the JSON source generator reads init-only members as
// constructor arguments, cached and then set in one go, which cost a tenth of the api's CPU per batch item.

/// <summary>The native JSON body of <c>POST /v1/notifications</c> (SPEC §1).</summary>
public sealed record NotificationRequest
{
    public string? Type { get; set; }
    public CustomerRequest? Customer { get; set; }
    public JsonElement? Data { get; set; }
    public Priority? Priority { get; set; }
    public IReadOnlyList<Channel>? Channels { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public string? ExternalId { get; set; }

    /// <summary>Up to 3 reply choices (issue #16).</summary>
    public IReadOnlyList<ActionRequest?>? Actions { get; set; }

    /// <summary>How long the question stays open, as a duration ("30m", "24h", "2d"); default 24 h.</summary>
    public string? ReplyTtl { get; set; }
}

/// <summary>One reply choice: <c>{"id": "confirm", "title": "Yes, it was me"}</c>.</summary>
public sealed record ActionRequest
{
    public string? Id { get; set; }
    public string? Title { get; set; }
}

public sealed record CustomerRequest
{
    public string? Id { get; set; }
    public string? Phone { get; set; }
    public string? TelegramChatId { get; set; }
    public string? Email { get; set; }
    public string? PushToken { get; set; }
    public string? Language { get; set; }
}

// As the API documents it; BatchBody is how it is read.

/// <summary>The body of <c>POST /v1/notifications/batch</c>.</summary>
public sealed record BatchRequest
{
    public IReadOnlyList<JsonElement>? Items { get; init; }
}

/// <summary>The batch body as it is read: the same JSON rules as <see cref="BatchRequest"/> (unknown fields refused,
/// malformed JSON located), but each item only located in the body (<see cref="JsonSpan"/>) and parsed later by
/// <see cref="NotificationParser.ParseItem"/>, instead of copied into a document of its own and written out again to
/// be read (the JsonElement way; reading items in place took the api's CPU per item from 27 to 24 µs).</summary>
public sealed record BatchBody
{
    public IReadOnlyList<JsonSpan>? Items { get; set; }
}

/// <summary>Where one JSON value lies in the UTF-8 text it was read from.</summary>
[JsonConverter(typeof(JsonSpanConverter))]
public readonly record struct JsonSpan(int Start, int Length)
{
    public ReadOnlySpan<byte> Of(ReadOnlySpan<byte> json) => json.Slice(Start, Length);
}

/// <summary>Reads a value's position and skips it. Offsets are the reader's, so they are positions in the text only when
/// the whole text is one span read by one reader (<see cref="JsonSerializer.Deserialize{TValue}(ReadOnlySpan{byte}, System.Text.Json.Serialization.Metadata.JsonTypeInfo{TValue})"/>).</summary>
public sealed class JsonSpanConverter : JsonConverter<JsonSpan>
{
    public override bool HandleNull => true;

    public override JsonSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var start = checked((int)reader.TokenStartIndex);
        reader.Skip();
        return new JsonSpan(start, checked((int)reader.BytesConsumed) - start);
    }

    public override void Write(Utf8JsonWriter writer, JsonSpan value, JsonSerializerOptions options) =>
        throw new NotSupportedException("A JsonSpan is read, never written.");
}

/// <summary>Source-generated serialisation for the native format: strict (unknown fields are errors, so a typo
/// in a bank's integration is reported instead of silently dropping a field).</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(NotificationRequest))]
[JsonSerializable(typeof(BatchRequest))]
[JsonSerializable(typeof(BatchBody))]
public sealed partial class NativeJsonContext : JsonSerializerContext;
