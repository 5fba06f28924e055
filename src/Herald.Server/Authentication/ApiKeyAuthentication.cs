using System.Security.Claims;
using System.Text.Encodings.Web;
using Herald.Ingest.Authentication;
using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Herald.Server.Authentication;

/// <summary>Bearer API keys (SPEC §3): looked up by SHA-256, scoped to one tenant (and optionally one source).</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ITenantStore tenants,
    ApiKeyCache cache,
    ApiKeyUsage usage,
    TimeProvider time,
    IOptions<HeraldOptions> herald) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string TenantClaim = "herald:tenant";
    public const string SourceClaim = "herald:source";
    /// <summary>Which key made a request, as <c>key {id} ({prefix})</c>: the author of rule changes.</summary>
    public const string KeyClaim = "herald:key";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        var key = header["Bearer ".Length..].Trim();
        if (key.Length is 0 or > 256)
        {
            return AuthenticateResult.Fail("Malformed API key.");
        }

        if (herald.Value.AdminKey is { Length: > 0 } adminKey && ApiKeys.FixedTimeEquals(key, adminKey))
        {
            return Success([new Claim(ClaimTypes.Role, Roles.System)]);
        }

        var found = await cache.FindAsync(ApiKeys.Hash(key), tenants, Context.RequestAborted);
        if (found is null)
        {
            return AuthenticateResult.Fail("Unknown or revoked API key.");
        }

        // Checked on every request, also against the cached copy: expiry needs no announcement.
        if (found.ExpiredAt(time.GetUtcNow()))
        {
            return AuthenticateResult.Fail("Expired API key.");
        }

        usage.Record(found.Id);

        return Success(TenantClaims(found));
    }

    /// <summary>The claims of a tenant key; the console's session (Server/Console) carries the same.</summary>
    internal static List<Claim> TenantClaims(ApiKey found)
    {
        var claims = new List<Claim> { new(TenantClaim, found.TenantId.ToString()), new(KeyClaim, $"key {found.Id} ({found.Prefix})") };
        if (found.SourceId is { } source)
        {
            claims.Add(new Claim(SourceClaim, source.ToString()));
        }

        claims.AddRange(found.Roles.Select(r => new Claim(ClaimTypes.Role, r)));
        return claims;
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        Problems.Write(Context, StatusCodes.Status401Unauthorized, "unauthorized", "Authentication required.",
            "Send 'Authorization: Bearer <api key>'.");

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.Write(Context, StatusCodes.Status403Forbidden, "forbidden", "This key may not do that.",
            "The API key lacks the role this endpoint requires.");

    private AuthenticateResult Success(IEnumerable<Claim> claims) =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
}

/// <summary>Authorization policies by role (the table in docs/SPEC.md §3 "Roles"). A tenant <c>admin</c> key may also
/// send and read; a <c>viewer</c> key may read (every GET family, with contacts and secrets redacted by
/// <see cref="ViewerRedaction"/>) and nothing else.</summary>
public static class Policies
{
    public const string Send = "send";
    public const string Read = "read";
    public const string Admin = "admin";
    /// <summary>Reading what only admins could read before (sources, keys): <c>admin</c> or <c>viewer</c>.</summary>
    public const string Inspect = "inspect";
    public const string System = "system";

    /// <summary>The tenant the caller's key belongs to. Only call behind a tenant policy.</summary>
    public static Guid TenantId(this ClaimsPrincipal user) =>
        Guid.Parse(user.FindFirstValue(ApiKeyAuthenticationHandler.TenantClaim)!);

    public static Guid? SourceId(this ClaimsPrincipal user) =>
        user.FindFirstValue(ApiKeyAuthenticationHandler.SourceClaim) is { } s ? Guid.Parse(s) : null;
}
