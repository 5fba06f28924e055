using System.Security.Claims;
using System.Text.Encodings.Web;
using Herald.Ingest.Authentication;
using Herald.Server.Authentication;
using Herald.Storage;
using Herald.Storage.Secrets;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Herald.Server.WebConsole;

/// <summary>
/// The console's session cookie as a second way to present a tenant API key: a request with the cookie and no
/// <c>Authorization</c> header is authenticated from the cookie's <see cref="ConsoleTicket"/> with the same claims as the
/// key itself (<see cref="ApiKeyAuthenticationHandler.TenantClaims"/>), so every endpoint and policy treats both alike.
/// A write (any method but GET, HEAD, OPTIONS) must also carry <see cref="CsrfHeader"/> with the session's token: a
/// page of another site cannot read it, and SameSite=Strict already keeps the cookie off its requests.
/// </summary>
public sealed class ConsoleSessionHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ITenantStore tenants,
    ApiKeyCache cache,
    ISecretProtector protector,
    TimeProvider time) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ConsoleSession";
    public const string CookieName = "herald_console";
    public const string CsrfHeader = "X-Herald-CSRF";
    private const string CsrfFailed = "herald:console-csrf-failed";

    /// <summary>Whether <paramref name="context"/> is the console's to authenticate: its cookie, no bearer key.</summary>
    public static bool Applies(HttpContext context) =>
        context.Request.Headers.Authorization.Count == 0 && context.Request.Cookies.ContainsKey(CookieName);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Request.Cookies[CookieName] is not { Length: > 0 and <= 1024 } value)
        {
            return AuthenticateResult.NoResult();
        }

        var ticket = ConsoleTicket.Unprotect(protector, value);
        if (ticket is null || ticket.ExpiresAt <= time.GetUtcNow())
        {
            return AuthenticateResult.Fail("The console session is unknown or has ended.");
        }

        if (!HttpMethods.IsGet(Request.Method) && !HttpMethods.IsHead(Request.Method) && !HttpMethods.IsOptions(Request.Method)
            && !(Request.Headers[CsrfHeader].FirstOrDefault() is { } csrf && ApiKeys.FixedTimeEquals(csrf, ticket.Csrf)))
        {
            Context.Items[CsrfFailed] = true;
            return AuthenticateResult.Fail("A console write without its CSRF token.");
        }

        var found = await cache.FindAsync(ticket.KeyHash, tenants, Context.RequestAborted);
        // The key's expiry ends its sessions too, as revocation does.
        if (found is null || found.ExpiredAt(time.GetUtcNow()))
        {
            return AuthenticateResult.Fail("The session's API key is unknown, revoked or expired.");
        }

        var identity = new ClaimsIdentity(ApiKeyAuthenticationHandler.TenantClaims(found), SchemeName);
        var principal = new ClaimsPrincipal(identity);
        Context.Items[typeof(ConsoleTicket)] = ticket;
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        Context.Items.ContainsKey(CsrfFailed)
            ? Problems.Write(Context, StatusCodes.Status403Forbidden, "csrf", "The console's CSRF token is missing or wrong.",
                $"Writes with the console's session cookie need the '{CsrfHeader}' header from POST /console/session.")
            : Problems.Write(Context, StatusCodes.Status401Unauthorized, "unauthorized", "The console session has ended.",
                "Sign in again with an API key (POST /console/session).");

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.Write(Context, StatusCodes.Status403Forbidden, "forbidden", "This key may not do that.",
            "The API key the console signed in with lacks the role this endpoint requires.");
}
