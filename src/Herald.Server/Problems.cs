using System.Text.Json.Serialization;
using Herald.Ingest;

namespace Herald.Server;

/// <summary>RFC 9457 problem details, one shape for every error Herald returns.</summary>
public sealed record Problem
{
    public required string Type { get; init; }
    public required string Title { get; init; }
    public required int Status { get; init; }
    public string? Detail { get; init; }
    public string? Instance { get; init; }

    /// <summary>Located input errors (JSON Pointers into the request).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<InputError>? Errors { get; init; }
}

public static class Problems
{
    public const string ContentType = "application/problem+json";
    private const string TypeBase = "https://herald.dev/problems/";

    public static Problem Create(int status, string type, string title, string? detail = null, IReadOnlyList<InputError>? errors = null) =>
        new() { Type = TypeBase + type, Title = title, Status = status, Detail = detail, Errors = errors };

    public static IResult Result(int status, string type, string title, string? detail = null, IReadOnlyList<InputError>? errors = null) =>
        TypedResults.Json(Create(status, type, title, detail, errors), HeraldJson.Default.Problem, ContentType, status);

    public static IResult Invalid(IReadOnlyList<InputError> errors, string title = "The request is invalid.") =>
        Result(StatusCodes.Status400BadRequest, "validation", title, "See 'errors' for each problem and where it is.", errors);

    public static IResult NotFound(string what) =>
        Result(StatusCodes.Status404NotFound, "not-found", $"{what} not found.");

    public static Task Write(HttpContext context, int status, string type, string title, string? detail = null)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(Create(status, type, title, detail), HeraldJson.Default.Problem, ContentType, context.RequestAborted);
    }
}
