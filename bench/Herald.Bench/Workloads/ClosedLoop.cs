using System.Diagnostics;

namespace Herald.Bench.Workloads;

/// <summary>What a closed-loop run measured: operations, items they carried, per-operation latencies, errors.</summary>
public sealed record LoopResult(long Operations, long Items, long Errors, TimeSpan Elapsed, Percentiles Latency, string? FirstError)
{
    public double OperationsPerSecond => Operations / Elapsed.TotalSeconds;

    public double ItemsPerSecond => Items / Elapsed.TotalSeconds;
}

/// <summary>
/// N clients, each sending its next request as soon as the previous one answered, for a fixed time.
/// Latency is measured per request with Stopwatch; nothing is asserted.
/// </summary>
public static class ClosedLoop
{
    /// <param name="operation">One request; returns how many items it carried, or throws/returns a negative number on failure.</param>
    public static async Task<LoopResult> RunAsync(int clients, TimeSpan duration, Func<int, CancellationToken, Task<int>> operation, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var stopAt = duration;
        var latencies = new List<long>[clients];
        long items = 0, errors = 0;
        string? firstError = null;
        var tasks = new Task[clients];
        for (var c = 0; c < clients; c++)
        {
            var client = c;
            latencies[client] = new List<long>(16_384);
            tasks[client] = Task.Run(
                async () =>
                {
                    while (clock.Elapsed < stopAt && !ct.IsCancellationRequested)
                    {
                        var start = Stopwatch.GetTimestamp();
                        int carried;
                        try
                        {
                            carried = await operation(client, ct);
                        }
                        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !ct.IsCancellationRequested)
                        {
                            Interlocked.CompareExchange(ref firstError, e.Message, null);
                            carried = -1;
                        }

                        if (carried < 0)
                        {
                            Interlocked.Increment(ref errors);
                            continue;
                        }

                        latencies[client].Add(Stopwatch.GetTimestamp() - start);
                        Interlocked.Add(ref items, carried);
                    }
                },
                ct);
        }

        await Task.WhenAll(tasks);
        var elapsed = clock.Elapsed;
        var all = latencies.SelectMany(l => l).ToList();
        return new LoopResult(all.Count, items, errors, elapsed, Percentiles.FromTicks(all), firstError);
    }

    /// <summary>Sends a prepared JSON body; returns <paramref name="items"/> on 2xx, -1 otherwise.</summary>
    public static async Task<int> PostAsync(HttpClient http, string path, byte[] body, int items, CancellationToken ct)
    {
        using var content = Payloads.Content(body);
        using var response = await http.PostAsync(path, content, ct);
        // Read the body so the connection is reused and the answer was really produced.
        await response.Content.ReadAsByteArrayAsync(ct);
        return response.IsSuccessStatusCode ? items : -1;
    }
}
