using System.Buffers;
using System.Text.Json;

namespace Herald.Sandbox.Fcm;

/// <summary>
/// The bodies FCM and Google's OAuth2 token endpoint answer with: <c>google.rpc.Status</c> errors whose details carry a
/// <c>type.googleapis.com/google.firebase.fcm.v1.FcmError</c> errorCode (and, for bad fields, a
/// <c>google.rpc.BadRequest</c>), and RFC 6749 <c>{"error","error_description"}</c> token errors.
/// </summary>
internal static class FcmResponses
{
    public const string FcmErrorType = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
    public const string BadRequestType = "type.googleapis.com/google.rpc.BadRequest";

    public static IResult Sent(string name) => Json(StatusCodes.Status200OK, w => w.WriteString("name", name));

    public static IResult Token(string accessToken, int expiresIn) => Json(StatusCodes.Status200OK, w =>
    {
        w.WriteString("access_token", accessToken);
        w.WriteNumber("expires_in", expiresIn);
        w.WriteString("token_type", "Bearer");
    });

    /// <summary>400 from the token endpoint: invalid_grant, invalid_request, unsupported_grant_type, invalid_scope.</summary>
    public static IResult TokenError(string error, string description) => Json(StatusCodes.Status400BadRequest, w =>
    {
        w.WriteString("error", error);
        w.WriteString("error_description", description);
    });

    public static IResult Unauthenticated() => Status(
        StatusCodes.Status401Unauthorized, "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        null, null);

    public static IResult Unregistered() => Status(StatusCodes.Status404NotFound, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED", null);

    public static IResult InvalidToken() => Status(
        StatusCodes.Status400BadRequest, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", "INVALID_ARGUMENT", null);

    /// <summary>400 INVALID_ARGUMENT naming the offending field (google.rpc.BadRequest fieldViolations).</summary>
    public static IResult InvalidField(string field, string description) =>
        Status(StatusCodes.Status400BadRequest, "INVALID_ARGUMENT", description, "INVALID_ARGUMENT", (field, description));

    public static IResult QuotaExceeded(int retryAfterSeconds) => new WithHeader(
        Status(StatusCodes.Status429TooManyRequests, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute'.", "QUOTA_EXCEEDED", null),
        "Retry-After", retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static IResult Unavailable() => Status(StatusCodes.Status503ServiceUnavailable, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE", null);

    private static IResult Status(int code, string status, string message, string? fcmErrorCode, (string Field, string Description)? violation) => Json(code, w =>
    {
        w.WriteStartObject("error");
        w.WriteNumber("code", code);
        w.WriteString("message", message);
        w.WriteString("status", status);
        if (fcmErrorCode is not null || violation is not null)
        {
            w.WriteStartArray("details");
            if (fcmErrorCode is not null)
            {
                w.WriteStartObject();
                w.WriteString("@type", FcmErrorType);
                w.WriteString("errorCode", fcmErrorCode);
                w.WriteEndObject();
            }

            if (violation is { } v)
            {
                w.WriteStartObject();
                w.WriteString("@type", BadRequestType);
                w.WriteStartArray("fieldViolations");
                w.WriteStartObject();
                w.WriteString("field", v.Field);
                w.WriteString("description", v.Description);
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    });

    private static IResult Json(int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }

        return new JsonBytes(status, buffer.WrittenSpan.ToArray());
    }

    private sealed class JsonBytes(int status, byte[] body) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            httpContext.Response.ContentType = "application/json; charset=UTF-8";
            httpContext.Response.ContentLength = body.Length;
            return httpContext.Response.Body.WriteAsync(body, httpContext.RequestAborted).AsTask();
        }
    }

    private sealed class WithHeader(IResult inner, string name, string value) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers[name] = value;
            return inner.ExecuteAsync(httpContext);
        }
    }
}
