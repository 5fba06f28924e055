using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;

namespace Herald.Chaos.Tests.Infrastructure;

/// <summary>
/// Clients of a bank: each notification carries an Idempotency-Key and is retried with the same key on 5xx, 429 and
/// connection errors until it is answered 202 (or 200: an earlier try was committed). A notification counts as
/// accepted once one such answer arrived.
/// </summary>
public sealed class Load
{
    private readonly HttpClient _client;
    private readonly TimeSpan _pace;
    private readonly TimeSpan _deadline;
    private readonly ConcurrentDictionary<string, int> _accepted = new();
    private readonly ConcurrentDictionary<int, int> _answers = new();
    private int _next = -1;
    private int _transportErrors;
    private int _rejected;

    private Load(HttpClient client, string prefix, int count, TimeSpan pace, TimeSpan deadline)
    {
        _client = client;
        Prefix = prefix;
        Count = count;
        _pace = pace;
        _deadline = deadline;
    }

    /// <summary>Texts (and Idempotency-Keys) of this load start with this; it ends with a dash.</summary>
    public string Prefix { get; }

    public int Count { get; }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public int Accepted => _accepted.Count;

    public IReadOnlyCollection<string> AcceptedKeys => [.. _accepted.Keys];

    /// <summary>Answers that made a client retry: 5xx and 429.</summary>
    public int RetriedAnswers => _answers.Where(a => a.Key >= 500 || a.Key == 429).Sum(a => a.Value);

    public int TransportErrors => _transportErrors;

    /// <summary>4xx other than 429: a request Herald refused as invalid (never expected here).</summary>
    public int Rejected => _rejected;

    public int Answers(int status) => _answers.GetValueOrDefault(status);

    public string Key(int i) => $"{Prefix}{i:D5}";

    public static Load Start(HttpClient client, string prefix, int count, int concurrency, TimeSpan? pace = null, TimeSpan? deadline = null)
    {
        var load = new Load(client, prefix + "-", count, pace ?? TimeSpan.Zero, deadline ?? TimeSpan.FromSeconds(120));
        load.Completion = Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(load.ClientAsync)));
        return load;
    }

    private async Task ClientAsync()
    {
        var clock = Stopwatch.StartNew();
        int i;
        while ((i = Interlocked.Increment(ref _next)) < Count)
        {
            var key = Key(i);
            var tries = 0;
            while (clock.Elapsed < _deadline)
            {
                tries++;
                var status = await SendAsync(key, i);
                if (status is (int)HttpStatusCode.Accepted or (int)HttpStatusCode.OK)
                {
                    _accepted.TryAdd(key, status);
                    break;
                }

                if (status is >= 400 and < 500 and not 429)
                {
                    Interlocked.Increment(ref _rejected);
                    break;
                }

                // Backoff between retries of one notification; the load's deadline bounds it all.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(500, 25 * tries)));
            }

            if (_pace > TimeSpan.Zero)
            {
                await Task.Delay(_pace);
            }
        }
    }

    /// <returns>The HTTP status, or 0 when no answer arrived.</returns>
    private async Task<int> SendAsync(string key, int i)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/notifications")
        {
            Content = JsonContent.Create(new
            {
                type = "card.transaction",
                channels = new[] { "telegram" },
                // Ends in 1: never a sandbox magic chat id (…403 is "blocked").
                customer = new { telegramChatId = $"7{i:D5}1" },
                data = new { text = key },
            }),
        };
        request.Headers.Add("Idempotency-Key", key);
        try
        {
            using var response = await _client.SendAsync(request);
            var status = (int)response.StatusCode;
            _answers.AddOrUpdate(status, 1, static (_, n) => n + 1);
            return status;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            Interlocked.Increment(ref _transportErrors);
            return 0;
        }
    }
}
