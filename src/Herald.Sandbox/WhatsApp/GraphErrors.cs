using System.Security.Cryptography;

namespace Herald.Sandbox.WhatsApp;

/// <summary>Graph API error envelopes with the codes and HTTP statuses Meta's Cloud API uses.</summary>
internal static class GraphErrors
{
    /// <summary>190, 401: missing or unparsable access token (OAuth errors carry no error_data).</summary>
    public static IResult InvalidToken() => Results.Json(
        new
        {
            error = new
            {
                message = "Invalid OAuth access token - Cannot parse access token",
                type = "OAuthException",
                code = 190,
                fbtrace_id = NewTraceId(),
            },
        },
        statusCode: StatusCodes.Status401Unauthorized);

    /// <summary>100, 400: invalid or missing parameter, malformed body.</summary>
    public static IResult InvalidParameter(string details) =>
        Error(StatusCodes.Status400BadRequest, 100, "Invalid parameter", details);

    /// <summary>131047, 400: a free-form message outside the customer's 24-hour customer-service window.</summary>
    public static IResult ReEngagement() =>
        Error(StatusCodes.Status400BadRequest, 131047, "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.");

    /// <summary>130429, 400: Cloud API throughput reached.</summary>
    public static IResult RateLimitHit() =>
        Error(StatusCodes.Status400BadRequest, 130429, "Rate limit hit", "Cloud API message throughput has been reached.");

    /// <summary>131000, 500: generic transient failure.</summary>
    public static IResult SomethingWentWrong() =>
        Error(StatusCodes.Status500InternalServerError, 131000, "Something went wrong", "Something went wrong");

    /// <summary>2, 503: temporary downtime of the service.</summary>
    public static IResult ServiceUnavailable() =>
        Error(StatusCodes.Status503ServiceUnavailable, 2, "Service temporarily unavailable", "Service temporarily unavailable");

    private static IResult Error(int httpStatus, int code, string title, string details) => Results.Json(
        new
        {
            error = new
            {
                message = $"(#{code}) {title}",
                type = "OAuthException",
                code,
                error_data = new { messaging_product = "whatsapp", details },
                fbtrace_id = NewTraceId(),
            },
        },
        statusCode: httpStatus);

    private static string NewTraceId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes)[..22].Replace('/', '_').Replace('+', '-');
    }
}
