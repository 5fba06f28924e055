using System.Diagnostics;

namespace Herald.Server.Observability;

/// <summary>
/// With tracing off, makes ASP.NET Core start its (unrecorded) request activity on every request, so the bank's
/// <c>traceparent</c> on a POST is seen and stored with the notification and goes back on the bank's webhook requests.
/// ASP.NET Core does this by itself only while some logger is enabled; this makes it independent of the log settings.
/// The activity is what a log scope already costs: nothing is recorded or exported.
/// </summary>
internal sealed class RequestTraceContext : IHostedService, IDisposable
{
    private ActivityListener? _listener;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = static (ref _) => ActivitySamplingResult.PropagationData,
        };
        ActivitySource.AddActivityListener(_listener);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _listener = null;
    }
}
