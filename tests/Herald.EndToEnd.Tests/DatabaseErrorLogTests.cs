using System.Collections.Concurrent;
using System.Text;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #13 item 6: with the levels Herald ships (no appsettings file, no Logging settings), a failing PostgreSQL
/// insert writes nothing of the customer's data into the log: not the SQL's parameters, not PostgreSQL's error text,
/// detail or context (<c>Where</c>), not the exception's <c>Data</c> a structured sink would print.
/// </summary>
public sealed class DatabaseErrorLogTests(PostgresFixture postgres)
{
    private const string Secret = "SECRET-CUSTOMER-4711";

    [Fact]
    public async Task FailingInsert_LogsNoCustomerData_AndNoCommandsAtShippedLevels()
    {
        var settings = HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("logs_" + Guid.NewGuid().ToString("N")[..12], TestContext.Current.CancellationToken));
        settings.Remove("Logging:LogLevel:Default");
        var sink = new CapturingProvider();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings, configure: b => b.Logging.AddProvider(sink));
        var (_, client) = await host.CreateTenantAsync();

        // PostgreSQL cannot store \u0000 in jsonb (22P05); its error context quotes the JSON around it.
        using var content = new StringContent(
            "{\"type\":\"card.transaction\",\"customer\":{\"phone\":\"" + TestData.Phone() + "\"},\"data\":{\"text\":\"" + Secret + " \\u0000 " + Secret + "\"}}",
            Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("/v1/notifications", content);
        var ok = await client.SendAsync(new { type = "card.transaction", customer = new { phone = TestData.Phone() }, data = new { text = Secret } });
        await client.WaitForStatusAsync(ok, "delivered");

        var logged = sink.Text();
        TestContext.Current.SendDiagnosticMessage($"POST with NUL answered {(int)response.StatusCode}; {sink.Count} log entries captured");
        foreach (var line in sink.Lines.Where(l => l.Contains("22P05", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal)).Take(3))
        {
            TestContext.Current.SendDiagnosticMessage(line[..Math.Min(400, line.Length)]);
        }

        Assert.DoesNotContain(Secret, logged, StringComparison.Ordinal);
        Assert.DoesNotContain("Command execution completed", logged, StringComparison.Ordinal);
    }

    private sealed class CapturingProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IEnumerable<string> Lines => _lines;

        public int Count => _lines.Count;

        public string Text() => string.Join('\n', _lines);

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                // What a structured sink writes: the message, its fields, the exception and the exception's Data.
                var text = new StringBuilder($"{logLevel} {category}: {formatter(state, exception)}");
                if (state is IEnumerable<KeyValuePair<string, object?>> fields)
                {
                    foreach (var (key, value) in fields)
                    {
                        text.Append(' ').Append(key).Append('=').Append(value);
                    }
                }

                for (var e = exception; e is not null; e = e.InnerException)
                {
                    text.Append('\n').Append(e);
                    foreach (System.Collections.DictionaryEntry entry in e.Data)
                    {
                        text.Append('\n').Append(entry.Key).Append('=').Append(entry.Value);
                    }
                }

                lines.Enqueue(text.ToString());
            }
        }
    }
}
