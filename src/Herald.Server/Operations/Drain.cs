using System.Data.Common;
using System.Net.Sockets;
using Herald.Server.Hosting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace Herald.Server.Operations;

/// <summary>Whether this node is leaving: <c>/readyz</c> answers 503 from the first moment of shutdown.</summary>
public sealed class DrainState
{
    private volatile bool _draining;
    private volatile bool _probed;

    /// <summary>True once shutdown began (SIGTERM, Ctrl+C, host stop).</summary>
    public bool IsDraining => _draining;

    /// <summary>True once anyone asked <c>/readyz</c>: a balancer (or orchestrator) is watching this node.</summary>
    public bool WasProbed => _probed;

    internal void Probed() => _probed = true;

    internal void Begin() => _draining = true;
}

/// <summary>
/// Graceful drain (issue #7): on shutdown the node first reports not-ready, keeps serving for
/// <see cref="HeraldOptions.DrainDelay"/> so the balancer's health checks take it out of rotation, and only then lets
/// the host stop Kestrel (in-flight requests complete) and the workers (they finish their claimed batch).
/// A node nobody probes for readiness has no balancer to tell, so it skips the wait.
/// </summary>
public sealed partial class DrainOnShutdown(DrainState state, IOptions<HeraldOptions> options, TimeProvider time, ILogger<DrainOnShutdown> logger)
    : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        state.Begin();
        var delay = options.Value.DrainDelay;
        if (delay <= TimeSpan.Zero || !state.WasProbed)
        {
            return;
        }

        LogDraining(logger, delay);
        try
        {
            await Task.Delay(delay, time, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout ran out: stop now.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 4500, Level = LogLevel.Information, Message = "Shutting down: not ready, serving {DrainDelay} more so the balancer takes this node out")]
    private static partial void LogDraining(ILogger logger, TimeSpan drainDelay);
}

/// <summary>
/// A request that fails because the database does not answer gets <c>503</c> with <c>Retry-After</c>, not 500:
/// nothing was acknowledged (SPEC §2: 202 only after the commit), so the client retries with its Idempotency-Key.
/// </summary>
public sealed partial class StorageUnavailableHandler(ILogger<StorageUnavailableHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // A commit cut short by this node's shutdown is an outage of this node, not a client error.
        var shuttingDown = exception is OperationCanceledException && !httpContext.RequestAborted.IsCancellationRequested;
        if (!(shuttingDown || IsStorageOutage(exception)) || httpContext.Response.HasStarted)
        {
            return false;
        }

        LogStorageUnavailable(logger, httpContext.Request.Method, exception.GetType().Name);
        httpContext.Response.Headers.RetryAfter = "1";
        await Problems.Write(httpContext, StatusCodes.Status503ServiceUnavailable, "storage-unavailable",
            "Herald cannot store this right now (database unreachable or node stopping); nothing was acknowledged. Retry with the same Idempotency-Key.");
        return true;
    }

    internal static bool IsStorageOutage(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is DbException or SocketException or TimeoutException)
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(EventId = 4501, Level = LogLevel.Warning, Message = "{Method} answered 503: storage unavailable ({Exception})")]
    private static partial void LogStorageUnavailable(ILogger logger, string method, string exception);
}
