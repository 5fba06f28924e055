using System.Collections.Concurrent;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Sandbox.Outages;

/// <summary>
/// Simulated outages of single provider accounts: while a key is set, the simulator answers that account's sends
/// with 503 in the vendor's own error shape. The key is the WhatsApp phoneNumberId, the Twilio account SID, the
/// Telegram bot token or the FCM project id (whatever the vendor's path names the account by); the SMPP simulator
/// answers a system_id that is out with ESME_RSYSERR, the SMTP simulator an AUTH user with 451 4.3.2.
/// </summary>
public sealed class SandboxOutages
{
    private readonly ConcurrentDictionary<string, byte> _keys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _latencies = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Keys => [.. _keys.Keys.Order(StringComparer.Ordinal)];

    public bool IsOut(string key) => !_keys.IsEmpty && _keys.ContainsKey(key);

    public void Start(string key) => _keys[key] = 0;

    public bool End(string key) => _keys.TryRemove(key, out _);

    public void Clear()
    {
        _keys.Clear();
        _latencies.Clear();
    }

    /// <summary>Extra latency for one account's sends, on top of the sandbox-wide <c>LatencyMs</c>: a slow vendor for
    /// one account only (so one tenant can show a slow provider without slowing the others). 0 removes it.</summary>
    public void SetLatency(string key, int milliseconds)
    {
        if (milliseconds > 0)
        {
            _latencies[key] = milliseconds;
        }
        else
        {
            _latencies.TryRemove(key, out _);
        }
    }

    /// <summary>The extra latency of <paramref name="key"/>'s sends, 0 when none.</summary>
    public int LatencyOf(string key) => !_latencies.IsEmpty && _latencies.TryGetValue(key, out var ms) ? ms : 0;

    /// <summary>Waits the extra latency of <paramref name="key"/>, if any.</summary>
    public Task DelayAsync(string key, TimeProvider time, CancellationToken ct) =>
        LatencyOf(key) is > 0 and var ms ? Task.Delay(TimeSpan.FromMilliseconds(ms), time, ct) : Task.CompletedTask;
}

public static class SandboxOutagesEndpoints
{
    /// <summary>
    /// <c>PUT /sandbox/outages/{key}</c> starts an outage (204), <c>DELETE /sandbox/outages/{key}</c> ends it (204, 404
    /// when none), <c>DELETE /sandbox/outages</c> ends all, <c>GET /sandbox/outages</c> lists the keys. A filter on the
    /// group answers the simulated vendor APIs with 503 for an account that is out.
    /// </summary>
    public static RouteGroupBuilder MapSandboxOutages(this RouteGroupBuilder sandbox)
    {
        sandbox.MapGet("/outages", ([FromServices] SandboxOutages outages) => TypedResults.Ok(outages.Keys)).RequireSandboxControlKey();
        sandbox.MapPut("/outages/{key}", (string key, [FromServices] SandboxOutages outages) =>
        {
            outages.Start(key);
            return TypedResults.NoContent();
        }).RequireSandboxControlKey();
        sandbox.MapDelete("/outages/{key}", IResult (string key, [FromServices] SandboxOutages outages) =>
            outages.End(key) ? TypedResults.NoContent() : TypedResults.NotFound()).RequireSandboxControlKey();
        sandbox.MapDelete("/outages", ([FromServices] SandboxOutages outages) =>
        {
            outages.Clear();
            return TypedResults.NoContent();
        }).RequireSandboxControlKey();
        sandbox.AddEndpointFilter(OutageFilterAsync);
        return sandbox;
    }

    /// <summary>The outage answer, for endpoints mapped outside the group (the Bot API at the root).</summary>
    public static TBuilder WithSandboxOutages<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(OutageFilterAsync);

    private static async ValueTask<object?> OutageFilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var outages = http.RequestServices.GetRequiredService<SandboxOutages>();
        var values = http.Request.RouteValues;
        foreach (var name in (ReadOnlySpan<string>)["phoneNumberId", "accountSid", "projectId", "token"])
        {
            if (values.TryGetValue(name, out var value) && value is string key)
            {
                await outages.DelayAsync(key, http.RequestServices.GetRequiredService<TimeProvider>(), http.RequestAborted);
                break;
            }
        }

        if (values.TryGetValue("phoneNumberId", out var phone) && phone is string p && outages.IsOut(p))
        {
            // Graph API: "Service temporarily unavailable" (code 2).
            return Results.Json(
                new { error = new { message = "Service temporarily unavailable", type = "OAuthException", code = 2, is_transient = true, fbtrace_id = "sandbox-outage" } },
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        if (values.TryGetValue("accountSid", out var sid) && sid is string s && outages.IsOut(s))
        {
            // Twilio REST API error 20503.
            return Results.Json(
                new { code = 20503, message = "Service unavailable", more_info = "https://www.twilio.com/docs/errors/20503", status = 503 },
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        if (values.TryGetValue("projectId", out var project) && project is string f && outages.IsOut(f))
        {
            // FCM HTTP v1: google.rpc.Status UNAVAILABLE.
            return Results.Json(
                new { error = new { code = 503, message = "The service is currently unavailable.", status = "UNAVAILABLE" } },
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        if (values.TryGetValue("token", out var token) && token is string t && outages.IsOut(t))
        {
            return Results.Json(
                new { ok = false, error_code = 503, description = "Service Unavailable" },
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return await next(context);
    }
}
