using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Ingest;
using Herald.Ingest.Authentication;
using Herald.Server.Authentication;
using Herald.Server.Hosting;
using Herald.Storage;
using Herald.Storage.Secrets;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace Herald.Server.WebConsole;

/// <summary>The sign-in body: the tenant API key, sent once and kept nowhere in the browser.</summary>
public sealed record ConsoleSignIn(string? Key);

/// <summary>A console session as the browser may know it (the cookie itself is HttpOnly).</summary>
/// <param name="Csrf">Send as <c>X-Herald-CSRF</c> with every write.</param>
/// <param name="KeyPrefix">The key's first characters, to tell keys apart.</param>
public sealed record ConsoleSessionView(Guid TenantId, IReadOnlyList<string> Roles, string KeyPrefix, string Csrf, DateTimeOffset ExpiresAt);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ConsoleSignIn))]
[JsonSerializable(typeof(ConsoleSessionView))]
public sealed partial class ConsoleJson : JsonSerializerContext;

/// <summary>
/// The operator console: its files under <c>/console</c> (a single-page application: unknown paths answer its
/// index.html), <c>/</c> redirecting there, and the session sign-in at <c>/console/session</c> (POST signs in with
/// an API key, GET reads the session, DELETE signs out). docs/CONSOLE.md.
/// </summary>
public static class ConsoleApi
{
    /// <summary>No inline script or style, nothing from another origin; the page may not be framed.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static void MapHeraldConsole(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<ConsoleOptions>>().Value;
        if (!options.Enabled)
        {
            return;
        }

        var root = options.Root ?? Path.Combine(AppContext.BaseDirectory, "console");
        app.MapGet("/", () => Results.Redirect("/console/")).ExcludeFromDescription();
        var session = app.MapGroup("/console/session").WithTags("Console");
        session.MapPost("/", SignInAsync).AllowAnonymous()
            .WithName("signInConsole").WithSummary("Signs the console in with a tenant API key: sets a short-lived HttpOnly, SameSite=Strict session cookie.")
            .Accepts<ConsoleSignIn>("application/json")
            .Produces<ConsoleSessionView>()
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized);
        session.MapGet("/", Read).RequireAuthorization(new Microsoft.AspNetCore.Authorization.AuthorizeAttribute { AuthenticationSchemes = ConsoleSessionHandler.SchemeName })
            .WithName("getConsoleSession").WithSummary("The console's session: tenant, roles, CSRF token and end.")
            .Produces<ConsoleSessionView>()
            .ProducesProblems(StatusCodes.Status401Unauthorized);
        session.MapDelete("/", SignOut).AllowAnonymous()
            .WithName("signOutConsole").WithSummary("Signs the console out: deletes the session cookie.")
            .Produces(StatusCodes.Status204NoContent);

        var files = new ConsoleFiles(root);
        app.MapGet("/console/{**path}", files.Serve).AllowAnonymous().ExcludeFromDescription();
    }

    private static async Task<IResult> SignInAsync(
        HttpContext context, ITenantStore tenants, ApiKeyCache cache, ISecretProtector protector, TimeProvider time,
        IOptions<ConsoleOptions> options, IOptions<HeraldOptions> herald, CancellationToken ct)
    {
        ConsoleSignIn? body;
        try
        {
            body = await context.Request.ReadFromJsonAsync(ConsoleJson.Default.ConsoleSignIn, ct);
        }
        catch (JsonException)
        {
            body = null;
        }

        if (body?.Key is not { Length: > 0 and <= 256 } key)
        {
            return Problems.Invalid([new InputError("/key", "The API key to sign in with (at most 256 characters).")], "The sign-in is invalid.");
        }

        if (herald.Value.AdminKey is { Length: > 0 } adminKey && ApiKeys.FixedTimeEquals(key, adminKey))
        {
            return Problems.Invalid([new InputError("/key", "The console signs in with a tenant's API key, not the system admin key.")], "The sign-in is invalid.");
        }

        var hash = ApiKeys.Hash(key);
        var found = await cache.FindAsync(hash, tenants, ct);
        if (found is null || found.ExpiredAt(time.GetUtcNow()))
        {
            return Problems.Result(StatusCodes.Status401Unauthorized, "unauthorized", "Unknown or revoked API key.");
        }

        var ticket = ConsoleTicket.Create(hash, time.GetUtcNow() + options.Value.SessionLifetime);
        context.Response.Cookies.Append(ConsoleSessionHandler.CookieName, ticket.Protect(protector), new CookieOptions
        {
            HttpOnly = true,
            Secure = OverHttps(context.Request),
            SameSite = SameSiteMode.Strict,
            Path = "/",
            Expires = ticket.ExpiresAt,
            IsEssential = true,
        });
        return TypedResults.Json(View(found, ticket), ConsoleJson.Default.ConsoleSessionView);
    }

    private static IResult Read(HttpContext context, ClaimsPrincipal user) =>
        context.Items[typeof(ConsoleTicket)] is ConsoleTicket ticket
            ? TypedResults.Json(
                new ConsoleSessionView(user.TenantId(), [.. user.FindAll(ClaimTypes.Role).Select(static c => c.Value)],
                    user.FindFirstValue(ApiKeyAuthenticationHandler.KeyClaim) ?? "", ticket.Csrf, ticket.ExpiresAt),
                ConsoleJson.Default.ConsoleSessionView)
            : Problems.Result(StatusCodes.Status401Unauthorized, "unauthorized", "No console session.");

    // Anonymous and CSRF-free on purpose: it only deletes the caller's own cookie, which is no harm to force.
    private static IResult SignOut(HttpContext context)
    {
        context.Response.Cookies.Delete(ConsoleSessionHandler.CookieName, new CookieOptions { Path = "/", HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = OverHttps(context.Request) });
        return TypedResults.NoContent();
    }

    /// <summary>Whether the browser reached Herald over https: directly, or through a proxy that ended TLS (the shipped
    /// nginx sets X-Forwarded-Proto). Believed from anyone, since all it can do is make the caller's own cookie Secure.</summary>
    private static bool OverHttps(HttpRequest request) =>
        request.IsHttps || string.Equals(request.Headers["X-Forwarded-Proto"].FirstOrDefault(), "https", StringComparison.OrdinalIgnoreCase);

    private static ConsoleSessionView View(ApiKey key, ConsoleTicket ticket) =>
        new(key.TenantId, key.Roles, $"key {key.Id} ({key.Prefix})", ticket.Csrf, ticket.ExpiresAt);

    /// <summary>The built files. Hashed assets (assets/*) are cached for a year; index.html is checked every time, so a
    /// new build shows at the next load.</summary>
    private sealed class ConsoleFiles(string root)
    {
        private static readonly FileExtensionContentTypeProvider Types = new();

        public IResult Serve(HttpContext context, string? path)
        {
            // Routing matches /console and /console/ alike; the application's URLs all start with /console/.
            if (!context.Request.Path.Value!.StartsWith("/console/", StringComparison.Ordinal))
            {
                return Results.Redirect("/console/");
            }

            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            if (!Directory.Exists(root))
            {
                return Results.Text($"The console is not built here ({root}): build src/Herald.Server with npm installed (docs/CONSOLE.md).",
                    statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            using var provider = new PhysicalFileProvider(root);
            var asset = path is { Length: > 0 } ? provider.GetFileInfo(path) : null;
            if (asset is { Exists: true, IsDirectory: false, PhysicalPath: { } physical } && path!.StartsWith("assets/", StringComparison.Ordinal))
            {
                headers.CacheControl = "public, max-age=31536000, immutable";
                return Results.File(physical, Types.TryGetContentType(physical, out var type) ? type : "application/octet-stream");
            }

            if (path is { Length: > 0 } && (path.StartsWith("assets/", StringComparison.Ordinal) || Path.HasExtension(path)))
            {
                return Results.NotFound();
            }

            // A page of the application (e.g. /console/notifications/...): its router reads the path.
            headers.CacheControl = "no-cache";
            return Results.File(Path.Combine(root, "index.html"), "text/html; charset=utf-8");
        }
    }
}
