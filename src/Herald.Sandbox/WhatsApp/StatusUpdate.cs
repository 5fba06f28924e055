using Herald.Sandbox.Callbacks;

namespace Herald.Sandbox.WhatsApp;

/// <summary>A message status waiting to be POSTed to Herald's WhatsApp callback.</summary>
public sealed class StatusUpdate : CallbackItem
{
    public required string MessageId { get; init; }

    public required string Status { get; init; }

    public required string RecipientId { get; init; }

    public required string PhoneNumberId { get; init; }

    /// <summary>Pricing category: <c>utility</c> for templates, <c>service</c> for free-form text.</summary>
    public required string Category { get; init; }

    /// <summary>When the status happened (unix seconds), reported as <c>timestamp</c>.</summary>
    public required long Timestamp { get; init; }

    /// <summary>Status to schedule once this one was acknowledged (sent → delivered); null for none.</summary>
    public string? Next { get; init; }

    public int? ErrorCode { get; init; }

    public string? ErrorTitle { get; init; }

    public string? ErrorDetails { get; init; }
}
