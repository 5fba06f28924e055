using Herald.Sandbox.Callbacks;

namespace Herald.Sandbox.Sms;

/// <summary>A Twilio message status waiting to be POSTed to the message's <c>StatusCallback</c> URL.</summary>
public sealed class SmsStatusCallback : CallbackItem
{
    /// <summary>The <c>StatusCallback</c> the client gave; the signature covers it exactly.</summary>
    public required string Url { get; init; }

    /// <summary>The auth token the client authenticated with: the key of <c>X-Twilio-Signature</c>.</summary>
    public required string AuthToken { get; init; }

    public required string AccountSid { get; init; }

    public required string MessageSid { get; init; }

    public required string From { get; init; }

    public required string To { get; init; }

    public string? MessagingServiceSid { get; init; }

    /// <summary><c>sent</c>, <c>delivered</c>, <c>undelivered</c> or <c>failed</c>.</summary>
    public required string Status { get; init; }

    /// <summary>Status to schedule once this one was acknowledged (sent → delivered); null for none.</summary>
    public string? Next { get; init; }

    /// <summary>Twilio error code for undelivered/failed.</summary>
    public int? ErrorCode { get; init; }
}
