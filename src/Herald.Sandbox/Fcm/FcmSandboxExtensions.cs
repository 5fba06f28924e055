using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald.Sandbox.Fcm;

/// <summary>Registers and mounts the FCM simulator (called by <see cref="SandboxExtensions"/>).</summary>
public static class FcmSandboxExtensions
{
    public static IServiceCollection AddFcmSimulator(this IServiceCollection services)
    {
        services.TryAddSingleton<FcmSimulator>();
        return services;
    }

    /// <summary>Maps <c>{group}/fcm/token</c> and <c>{group}/fcm/v1/projects/{projectId}/messages:send</c>.</summary>
    public static IEndpointRouteBuilder MapFcmSimulator(this IEndpointRouteBuilder sandbox)
    {
        sandbox.MapPost(
            "/fcm/token",
            (HttpContext context, [FromServices] FcmSimulator simulator, CancellationToken cancellationToken) =>
                simulator.TokenAsync(context, cancellationToken));
        sandbox.MapPost(
            "/fcm/v1/projects/{projectId}/messages:send",
            (HttpContext context, string projectId, [FromServices] FcmSimulator simulator, CancellationToken cancellationToken) =>
                simulator.SendAsync(context, projectId, cancellationToken));
        return sandbox;
    }
}
