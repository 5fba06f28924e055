using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Herald.Redis;

/// <summary>
/// The optional shared Redis (SPEC §4: cluster-wide rate limits, caches, configuration fan-out). Redis is never the
/// system of record: every user of this class has a path that works without it, because Herald keeps delivering
/// when Redis is absent or down. The multiplexer connects in the background and reconnects by itself.
/// </summary>
public sealed partial class RedisConnection : IAsyncDisposable
{
    private readonly Task<ConnectionMultiplexer>? _connecting;
    private volatile ConnectionMultiplexer? _multiplexer;

    /// <param name="configuration">A StackExchange.Redis configuration string ("host:port,password=…"); null or empty
    /// when Redis is not used.</param>
    public RedisConnection(string? configuration, ILogger<RedisConnection> logger)
    {
        if (string.IsNullOrWhiteSpace(configuration))
        {
            return;
        }

        var options = ConfigurationOptions.Parse(configuration);
        // Fail fast and keep retrying in the background: callers fall back to their local path meanwhile.
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
        options.SyncTimeout = Math.Min(options.SyncTimeout, 1000);
        options.AsyncTimeout = Math.Min(options.AsyncTimeout, 1000);
        options.ClientName ??= "herald";
        _connecting = ConnectAsync(options, logger);
    }

    /// <summary>Whether <c>ConnectionStrings:Redis</c> names a server.</summary>
    public bool IsConfigured => _connecting is not null;

    /// <summary>The multiplexer once created, else null (not configured, or still starting). It may be disconnected:
    /// check <see cref="IsConnected"/> or be ready for <see cref="RedisConnectionException"/> and timeouts.</summary>
    public IConnectionMultiplexer? Multiplexer => _multiplexer;

    /// <summary>True while the server answers.</summary>
    public bool IsConnected => Multiplexer?.IsConnected == true;

    /// <summary>Waits until connected or <paramref name="timeout"/> passes; true when connected (start-up and tests).</summary>
    public async Task<bool> WaitConnectedAsync(TimeSpan timeout, CancellationToken ct)
    {
        if (_connecting is null)
        {
            return false;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            var multiplexer = await _connecting.WaitAsync(deadline.Token).ConfigureAwait(false);
            while (!multiplexer.IsConnected)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), deadline.Token).ConfigureAwait(false);
            }

            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connecting is not null)
        {
            await (await _connecting.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions options, ILogger logger)
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        _multiplexer = multiplexer;
        multiplexer.ConnectionFailed += (_, e) => LogConnectionFailed(logger, e.EndPoint?.ToString(), e.FailureType.ToString());
        multiplexer.ConnectionRestored += (_, e) => LogConnectionRestored(logger, e.EndPoint?.ToString());
        if (!multiplexer.IsConnected)
        {
            LogNotReachable(logger, options.ToString(includePassword: false));
        }

        return multiplexer;
    }

    [LoggerMessage(EventId = 1500, Level = LogLevel.Warning, Message = "Redis connection to {EndPoint} failed ({FailureType}); using local fallbacks until it is back")]
    private static partial void LogConnectionFailed(ILogger logger, string? endPoint, string failureType);

    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Redis connection to {EndPoint} restored")]
    private static partial void LogConnectionRestored(ILogger logger, string? endPoint);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Warning, Message = "Redis ({Configuration}) is not reachable at start; retrying in the background")]
    private static partial void LogNotReachable(ILogger logger, string configuration);
}

public static class RedisServiceCollectionExtensions
{
    /// <summary>Registers <see cref="RedisConnection"/> from <c>ConnectionStrings:Redis</c> (optional).</summary>
    public static IServiceCollection AddHeraldRedis(this IServiceCollection services, IConfiguration configuration) =>
        services.AddSingleton(sp => new RedisConnection(
            configuration.GetConnectionString("Redis"), sp.GetRequiredService<ILogger<RedisConnection>>()));
}
