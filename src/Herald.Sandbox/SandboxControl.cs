using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox;

/// <summary>
/// The key of the sandbox's read and control endpoints (<see cref="SandboxOptions.ControlKey"/>): what simulated
/// customers received is every tenant's recipients and texts, and the settings shape every tenant's deliveries, so
/// outside the embedded demo they answer only the operator.
/// </summary>
public static class SandboxControl
{
    /// <summary>Requires <c>Authorization: Bearer {ControlKey}</c> when a control key is configured.</summary>
    public static TBuilder RequireSandboxControlKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(ControlKeyFilterAsync).WithMetadata(ControlEndpoint.Instance);

    /// <summary>Marks the control endpoints, so the host can record the operator's acts on them (its audit trail).</summary>
    public sealed class ControlEndpoint
    {
        public static ControlEndpoint Instance { get; } = new();

        private ControlEndpoint()
        {
        }
    }

    /// <summary>Whether <paramref name="authorization"/> is <c>Bearer {key}</c>; compared over hashes, so neither the
    /// key's length nor its content shows in the time taken.</summary>
    public static bool Matches(string? authorization, string key)
    {
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(authorization[scheme.Length..].Trim())),
            SHA256.HashData(Encoding.UTF8.GetBytes(key)));
    }

    private static async ValueTask<object?> ControlKeyFilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var key = http.RequestServices.GetRequiredService<IOptions<SandboxOptions>>().Value.ControlKey;
        if (string.IsNullOrEmpty(key) || Matches(http.Request.Headers.Authorization.FirstOrDefault(), key))
        {
            return await next(context).ConfigureAwait(false);
        }

        http.Response.Headers.WWWAuthenticate = "Bearer";
        return TypedResults.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "The sandbox control key is required.",
            detail: "Send Authorization: Bearer with Herald:Sandbox:ControlKey (or Herald:AdminKey when no control key is set).",
            type: "https://herald.dev/problems/unauthorized");
    }
}
