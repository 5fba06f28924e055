using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Core.Notifications;

namespace Herald.Ingest.Native;

/// <summary>The native JSON body of <c>POST /v1/notifications</c> (SPEC §1).</summary>
public sealed record NotificationRequest
{
    public string? Type { get; init; }
    public CustomerRequest? Customer { get; init; }
    public JsonElement? Data { get; init; }
    public Priority? Priority { get; init; }
    public IReadOnlyList<Channel>? Channels { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public string? ExternalId { get; init; }

    /// <summary>Up to 3 reply choices (issue #16).</summary>
    public IReadOnlyList<ActionRequest?>? Actions { get; init; }

    /// <summary>How long the question stays open, as a duration ("30m", "24h", "2d"); default 24 h.</summary>
    public string? ReplyTtl { get; init; }
}

/// <summary>One reply choice: <c>{"id": "confirm", "title": "Yes, it was me"}</c>.</summary>
public sealed record ActionRequest
{
    public string? Id { get; init; }
    public string? Title { get; init; }
}

public sealed record CustomerRequest
{
    public string? Id { get; init; }
    public string? Phone { get; init; }
    public string? TelegramChatId { get; init; }
    public string? Email { get; init; }
    public string? PushToken { get; init; }
    public string? Language { get; init; }
}

/// <summary>The body of <c>POST /v1/notifications/batch</c>.</summary>
public sealed record BatchRequest
{
    public IReadOnlyList<JsonElement>? Items { get; init; }
}

/// <summary>Source-generated serialisation for the native format: strict (unknown fields are errors, so a typo
/// in a bank's integration is reported instead of silently dropping a field).</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(NotificationRequest))]
[JsonSerializable(typeof(BatchRequest))]
public sealed partial class NativeJsonContext : JsonSerializerContext;
