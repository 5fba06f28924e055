using System.Globalization;

namespace Herald.Sandbox.Sms;

/// <summary>Twilio REST API error bodies: <c>{"code","message","more_info","status"}</c> with Twilio's codes and statuses.</summary>
internal static class TwilioApiErrors
{
    /// <summary>20003, 401: missing or unusable Basic credentials.</summary>
    public static IResult Authenticate() => Error(StatusCodes.Status401Unauthorized, 20003, "Authenticate");

    /// <summary>20429, 429: too many requests; safe to retry after backing off.</summary>
    public static IResult TooManyRequests(int retryAfterSeconds) => new WithHeader(
        Error(StatusCodes.Status429TooManyRequests, 20429, "Too Many Requests"),
        "Retry-After",
        retryAfterSeconds.ToString(CultureInfo.InvariantCulture));

    /// <summary>20500, 500: internal server error.</summary>
    public static IResult InternalError() => Error(StatusCodes.Status500InternalServerError, 20500, "An internal server error has occurred");

    /// <summary>A 400 with a Twilio validation code (21211 invalid To, 21602 Body required, 21604 To required, …).</summary>
    public static IResult BadRequest(int code, string message) => Error(StatusCodes.Status400BadRequest, code, message);

    private static IResult Error(int status, int code, string message) => Results.Json(
        new
        {
            code,
            message,
            more_info = "https://www.twilio.com/docs/errors/" + code.ToString(CultureInfo.InvariantCulture),
            status,
        },
        statusCode: status);

    private sealed class WithHeader(IResult inner, string name, string value) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers[name] = value;
            return inner.ExecuteAsync(httpContext);
        }
    }
}
