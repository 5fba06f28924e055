using Microsoft.Extensions.Configuration.Memory;
using Npgsql;

namespace Herald.Server.Hosting;

/// <summary>
/// What Herald's logs may hold. Two guards, both applied by <see cref="HeraldApp.Build"/>:
/// production log levels that hold with no appsettings file at all (the lowest-priority configuration source, so
/// appsettings, environment and command line still win), and a scrubber around every logging provider that withholds
/// PostgreSQL's error text, detail and context (<c>Where</c> quotes the row: "JSON data, line 1: {"text":"..."}),
/// which an exception's message, <c>ToString()</c> and <c>Data</c> would otherwise carry into any sink.
/// </summary>
public static class LogSafety
{
    /// <summary>The levels Herald ships: Npgsql's per-command Information lines and HttpClient's request lines (whose
    /// URLs hold a Telegram bot token) stay out unless an operator turns them on.</summary>
    public static readonly IReadOnlyDictionary<string, string?> DefaultLevels = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
        ["Logging:LogLevel:Npgsql"] = "Warning",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        ["Logging:LogLevel:Polly"] = "Warning",
    };

    /// <summary>Adds <see cref="DefaultLevels"/> beneath every other configuration source.</summary>
    public static void AddDefaultLogLevels(IConfigurationBuilder configuration) =>
        configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = DefaultLevels });

    /// <summary>Wraps every registered <see cref="ILoggerProvider"/> (call after the last one is added).</summary>
    public static void ScrubDatabaseErrors(IServiceCollection services)
    {
        foreach (var descriptor in services.Where(d => d.ServiceType == typeof(ILoggerProvider) && !d.IsKeyedService).ToList())
        {
            services.Remove(descriptor);
            services.AddSingleton<ILoggerProvider>(sp => new ScrubbingLoggerProvider(
                (ILoggerProvider)(descriptor.ImplementationInstance
                    ?? descriptor.ImplementationFactory?.Invoke(sp)
                    ?? ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!))));
        }
    }

    /// <summary><paramref name="exception"/> itself when no PostgreSQL error is in its chain; else a stand-in that keeps
    /// what locates the fault (the SQLSTATE, the constraint, table and column names, the exception types and the stack
    /// trace) and nothing the database quoted.</summary>
    public static Exception? Scrub(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException pg)
            {
                return new DatabaseErrorException(exception!, pg);
            }
        }

        return exception;
    }

    private sealed class ScrubbingLoggerProvider(ILoggerProvider inner) : ILoggerProvider, ISupportExternalScope
    {
        public ILogger CreateLogger(string categoryName) => new ScrubbingLogger(inner.CreateLogger(categoryName));

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => (inner as ISupportExternalScope)?.SetScopeProvider(scopeProvider);

        public void Dispose() => inner.Dispose();
    }

    private sealed class ScrubbingLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsReportedStartFailure(exception))
            {
                return;
            }

            inner.Log(logLevel, eventId, state, Scrub(exception), formatter);
        }
    }

    /// <summary>A port that is taken ends the start with one line (HeraldApp.RunAsync); the host's own error log of the
    /// same failure, a stack trace, is left out.</summary>
    private static bool IsReportedStartFailure(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is Microsoft.AspNetCore.Connections.AddressInUseException or Sandbox.Tcp.SandboxPortInUseException)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>A PostgreSQL error as Herald logs it: where it happened, never what the database quoted.</summary>
public sealed class DatabaseErrorException(Exception original, PostgresException error) : Exception(Describe(original, error))
{
    private readonly string? _stackTrace = original.StackTrace;

    /// <summary>The SQLSTATE (e.g. 22P05, 23505): what Herald's own handling keys on.</summary>
    public string SqlState { get; } = error.SqlState;

    public override string? StackTrace => _stackTrace;

    private static string Describe(Exception original, PostgresException error)
    {
        var where = string.Join(", ", new[] { ("constraint", error.ConstraintName), ("table", error.TableName), ("column", error.ColumnName) }
            .Where(p => p.Item2 is { Length: > 0 }).Select(p => $"{p.Item1} {p.Item2}"));
        return $"{original.GetType().Name}: PostgreSQL error {error.SqlState}{(where.Length > 0 ? " (" + where + ")" : "")}; "
            + "its message, detail and context are withheld from logs (they can quote customer data).";
    }
}
