namespace Herald.Sandbox.WhatsApp;

/// <summary>A message status waiting to be POSTed to Herald's WhatsApp callback.</summary>
internal sealed class StatusUpdate
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

    /// <summary>Unix milliseconds at which the status is due for delivery.</summary>
    public long DueMs { get; set; }

    /// <summary>Unix milliseconds of the first delivery attempt, 0 before it.</summary>
    public long FirstAttemptMs { get; set; }

    public int Attempts { get; set; }
}
