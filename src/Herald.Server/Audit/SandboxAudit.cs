using Herald.Sandbox;
using Herald.Storage;

namespace Herald.Server.Audit;

/// <summary>
/// Sandbox control (settings, outages, clearing messages and stats) in the system chain: the simulators hold that
/// state in memory, so there is no transaction to share; the entry is written right after the act succeeded. Reads and
/// the simulated vendor endpoints are not recorded.
/// </summary>
public static class SandboxAudit
{
    public static async Task MiddlewareAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);
        if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)
            || context.Response.StatusCode is < 200 or >= 300
            || context.GetEndpoint()?.Metadata.GetMetadata<SandboxControl.ControlEndpoint>() is null)
        {
            return;
        }

        // The resource is the control path below /sandbox: "settings", "outages/{key}", "messages".
        var path = context.Request.Path.Value ?? "";
        var resource = path.StartsWith("/sandbox/", StringComparison.Ordinal) ? path["/sandbox/".Length..] : path;
        var change = AuditRecorder.Change(context, null, "sandbox." + context.Request.Method.ToLowerInvariant(), "sandbox", resource, null, null);
        if (change.Actor.Name == "anonymous")
        {
            // The sandbox's own control key (Herald:Sandbox:ControlKey) is not an API key.
            change = change with { Actor = change.Actor with { Name = "sandbox-control" } };
        }

        // Not the request's token: the act is done, its record must not be dropped because the client went away.
        await context.RequestServices.GetRequiredService<IAuditStore>().AppendAsync(change, CancellationToken.None);
    }
}
