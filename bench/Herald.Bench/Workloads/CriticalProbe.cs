using System.Diagnostics;
using System.Text;
using Herald.Sandbox.Mailbox;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Bench.Workloads;

/// <summary>
/// Critical notifications sent one every <c>interval</c> while something else loads Herald: accept→provider latency is
/// the time the sandbox mailbox recorded each one minus the time its POST was issued (both from the same process
/// clock). Each probe uses its own chat-id prefix so probes never see each other's messages.
/// </summary>
public static class CriticalProbe
{
    /// <param name="Slowest">The five slowest as "#position in the stream (1-based): latency", slowest first: whether a
    /// tail is the stream's first criticals meeting a busy machine, or a stall somewhere in it.</param>
    public sealed record Result(Percentiles Latency, Percentiles Accept, int Sent, int FailedPosts, string Slowest);

    public static Task<Result> MeasureAsync(BenchHost host, HttpClient http, int prefix, int count, TimeSpan interval, CancellationToken ct)
    {
        var mailbox = host.Services.GetRequiredService<SandboxMailbox>();
        return MeasureAsync(http, prefix, count, interval, (issued, received) => CollectAsync(mailbox, issued, received, ct), ct);
    }

    /// <summary>The same with the receipt times found by <paramref name="collect"/> (the sandbox in another process).</summary>
    public static async Task<Result> MeasureAsync(
        HttpClient http, int prefix, int count, TimeSpan interval,
        Func<IReadOnlyDictionary<string, DateTimeOffset>, Dictionary<string, DateTimeOffset>, Task> collect, CancellationToken ct)
    {
        var time = TimeProvider.System;
        var issued = new Dictionary<string, DateTimeOffset>(count);
        var positions = new Dictionary<string, int>(count);
        var posts = new List<Task<long>>(count);
        var pace = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var due = interval * i;
            if (pace.Elapsed < due)
            {
                await Task.Delay(due - pace.Elapsed, ct);
            }

            var chatId = Payloads.ChatId(prefix, i);
            var body = Encoding.UTF8.GetBytes(Payloads.Telegram(chatId, type: "fraud.alert", priority: "critical"));
            issued[chatId] = time.GetUtcNow();
            positions[chatId] = i + 1;
            posts.Add(TimedPostAsync(http, body, ct));
        }

        var received = new Dictionary<string, DateTimeOffset>(count);
        await collect(issued, received);
        var acceptTicks = await Task.WhenAll(posts);
        var latencies = received.Select(r => (Position: positions[r.Key], Ms: (r.Value - issued[r.Key]).TotalMilliseconds)).ToList();
        var slowest = string.Join(", ", latencies.OrderByDescending(l => l.Ms).Take(5).Select(l => $"#{l.Position}: {Report.Ms(l.Ms)}"));
        return new Result(
            new Percentiles(latencies.Select(l => l.Ms)),
            Percentiles.FromTicks(acceptTicks.Where(t => t >= 0)),
            count,
            acceptTicks.Count(t => t < 0),
            slowest);
    }

    /// <summary>Collects mailbox times while the load keeps flowing in: the mailbox keeps only the newest messages.</summary>
    private static async Task CollectAsync(
        SandboxMailbox mailbox, IReadOnlyDictionary<string, DateTimeOffset> issued, Dictionary<string, DateTimeOffset> received, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (received.Count < issued.Count && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            foreach (var message in mailbox.Find("telegram"))
            {
                if (issued.ContainsKey(message.To))
                {
                    received.TryAdd(message.To, message.Time);
                }
            }

            if (received.Count < issued.Count)
            {
                await Task.Delay(200, ct);
            }
        }
    }

    /// <summary>One critical POST; returns its Stopwatch ticks, or -1 when it was not accepted.</summary>
    private static async Task<long> TimedPostAsync(HttpClient http, byte[] body, CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            return await ClosedLoop.PostAsync(http, "/v1/notifications", body, 1, ct) < 0 ? -1 : Stopwatch.GetTimestamp() - start;
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }
}
